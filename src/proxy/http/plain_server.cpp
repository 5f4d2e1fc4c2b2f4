#include "proxy/http/plain_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "http/stream_util.h"
#include "proxy/http/attested_server.h"

namespace atls::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

PlainHttpServer::PlainHttpServer(asio::io_context& io, http::RequestHandler handler,
                                 http::H1ServerOptions options)
    : io_(io), handler_(std::move(handler)), options_(options) {}

Outcome<tcp::endpoint> PlainHttpServer::listen(const tcp::endpoint& endpoint) {
  auto acceptor = listen_on(io_, endpoint);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_loop();
  asio::co_spawn(io_, std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void PlainHttpServer::close() {
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  }
}

asio::awaitable<void> PlainHttpServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(http::kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
      co_return;
    }
    if (ec) {
      continue;
    }
    const auto peer = socket.remote_endpoint(ec).address();
    auto connection = [](tcp::socket s, asio::ip::address p, http::RequestHandler h,
                         http::H1ServerOptions o) -> asio::awaitable<void> {
      http::PlainStream stream(std::move(s));
      boost::beast::flat_buffer buffer;
      co_await http::serve_h1(stream, buffer, p, std::move(h), o);
    }(std::move(socket), peer, handler_, options_);
    asio::co_spawn(io_, std::move(connection), asio::detached);
  }
}

http::RequestHandler health_check_handler(std::string version) {
  const std::string body = R"({"cargo_package_version":")" + version + R"("})";
  return [body](http::ServerExchangePtr exchange) -> asio::awaitable<void> {
    const auto& method = exchange->request().method;
    if (method != "GET" && method != "HEAD") {
      http::send_method_not_allowed(*exchange, "GET, HEAD");
      co_return;
    }
    auto response = http::make_text_response(200, body);
    response.head.headers.set("content-type", "application/json");
    exchange->send_response(std::move(response.head), std::move(response.body));
  };
}

}  // namespace atls::proxy
