#include "net/connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "net/errors.h"

namespace atls::net {

namespace asio = boost::asio;
namespace beast = boost::beast;

asio::awaitable<Outcome<asio::ip::tcp::socket>> connect_tcp(const HostPort& target,
                                                            std::chrono::milliseconds timeout) {
  constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
  // The socket, not a beast::tcp_stream, is returned: tcp_stream's unconstrained variadic
  // constructor makes result<tcp_stream, Failure> ambiguous (clang rejects it outright).
  using Out = Outcome<asio::ip::tcp::socket>;
  constexpr auto kError = boost::system::in_place_error;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), kUseTuple);
  if (resolve_ec) {
    co_return Out(kError, make_error_code(Errc::ResolveFailed),
                  target.to_string() + ": " + resolve_ec.message());
  }
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kUseTuple);
  if (connect_ec) {
    const bool timed_out = connect_ec == beast::error::timeout;
    co_return Out(kError, make_error_code(timed_out ? Errc::Timeout : Errc::ConnectFailed),
                  target.to_string() + ": " + connect_ec.message());
  }
  stream.expires_never();
  stream.socket().set_option(asio::ip::tcp::no_delay(true));
  co_return Out(boost::system::in_place_value, stream.release_socket());
}

}  // namespace atls::net
