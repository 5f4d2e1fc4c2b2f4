#include "proxy/accept_loop.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/stream_util.h"

namespace atls::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> accept_connections(tcp::acceptor* acceptor, Runtime* runtime,
                                         ConnectionLimit* limit, std::string listener,
                                         ServeConnection serve) {
  std::size_t next_io = 0;
  for (;;) {
    const std::size_t index = next_io++ % runtime->io_thread_count();
    auto [ec, socket] = co_await acceptor->async_accept(runtime->io(index), http::kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
      co_return;
    }
    if (ec) {
      spdlog::warn("{}: accept failed: {}", listener, ec.message());
      asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(http::kUseTuple);
      continue;
    }
    auto slot = limit->try_acquire();
    if (!slot) {
      spdlog::warn("{}: connection limit {} reached; refusing a connection", listener,
                   limit->max());
      continue;  // the socket closes here
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = serve(std::move(socket), index, std::move(*slot));
    asio::co_spawn(runtime->io(index), std::move(connection), asio::detached);
  }
}

}  // namespace atls::proxy
