#include "proxy/http/https_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "http/stream_util.h"
#include "proxy/accept_loop.h"
#include "proxy/http/attested_server.h"

namespace atls::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

HttpsServer::HttpsServer(Runtime& runtime, HttpsServerOptions options, http::RequestHandler handler)
    : runtime_(runtime),
      options_(std::move(options)),
      handler_(std::move(handler)),
      tls_(options_.tls),
      limit_(options_.max_connections, options_.on_connection_refused) {
  options_.h1.drain = drain_;
}

Outcome<tcp::endpoint> HttpsServer::start() {
  auto acceptor = listen_on(runtime_.main_io(), options_.listen);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_connections(
      acceptor_.get(), &runtime_, &limit_, "https listener",
      [this](tcp::socket socket, std::size_t /*io_index*/, ConnectionLimit::Slot slot) {
        return serve(std::move(socket), std::move(slot));
      });
  asio::co_spawn(runtime_.main_io(), std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void HttpsServer::drain() {
  drain_->start();
  if (acceptor_) {
    asio::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    });
  }
}

asio::awaitable<void> HttpsServer::serve(tcp::socket socket,
                                         [[maybe_unused]] ConnectionLimit::Slot slot) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec).address();
  // Held for the connection's lifetime: a certificate reload may replace the slot's context.
  const tls::SharedSslContext context = tls_.get();
  http::TlsStream stream(boost::beast::tcp_stream(std::move(socket)), *context);
  boost::beast::get_lowest_layer(stream).expires_after(options_.handshake_timeout);
  auto [handshake_ec] =
      co_await stream.async_handshake(asio::ssl::stream_base::server, http::kUseTuple);
  if (handshake_ec) {
    spdlog::debug("TLS handshake from {} failed: {}", peer.to_string(), handshake_ec.message());
    http::abort_stream(stream);
    co_return;
  }
  boost::beast::get_lowest_layer(stream).expires_never();
  boost::beast::flat_buffer buffer;
  co_await http::serve_h1(stream, buffer, peer, handler_, options_.h1);
}

}  // namespace atls::proxy
