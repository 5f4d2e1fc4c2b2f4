#pragma once
// Helpers over the stream types the HTTP layer runs on: plain TCP (beast::tcp_stream, for
// connections that need its timeouts), TLS over TCP (asio::ssl::stream<beast::tcp_stream>, the
// attested channel), and a bare TCP socket (the proxy-server's kept-alive target connections,
// which need no per-operation timeout and so skip tcp_stream's bookkeeping on every read and
// write: docs/benchmarks.md).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <type_traits>

namespace atls::http {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;
using TcpSocket = boost::asio::ip::tcp::socket;

inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

template <class Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

/// The TCP socket under a stream.
inline TcpSocket& tcp_socket(TcpSocket& stream) noexcept {
  return stream;
}
inline TcpSocket& tcp_socket(PlainStream& stream) noexcept {
  return stream.socket();
}
inline TcpSocket& tcp_socket(TlsStream& stream) noexcept {
  return stream.next_layer().socket();
}

/// Closes a stream: a TLS close_notify first (bounded by `grace`), then the socket.
template <class Stream>
boost::asio::awaitable<void> close_stream(
    Stream& stream, std::chrono::milliseconds grace = std::chrono::milliseconds(500)) {
  auto& lowest = boost::beast::get_lowest_layer(stream);
  if constexpr (kIsTls<Stream>) {
    if (lowest.socket().is_open()) {
      lowest.expires_after(grace);
      co_await stream.async_shutdown(kUseTuple);
    }
  }
  boost::system::error_code ignored;
  lowest.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  lowest.close();
}

/// Closes the socket at once (cancels pending operations).
template <class Stream>
void abort_stream(Stream& stream) noexcept {
  if constexpr (std::is_same_v<Stream, TcpSocket>) {
    boost::system::error_code ignored;
    stream.close(ignored);
  } else {
    boost::beast::get_lowest_layer(stream).close();
  }
}

}  // namespace atls::http
