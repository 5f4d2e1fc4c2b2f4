#pragma once
// An HTTPS (TLS + HTTP/1.1) listener for services that are not proxied over an attested
// channel: the token service (docs/token-service.md). Certificates can be replaced while it
// runs (reload); drain() stops accepting and closes idle keep-alive connections.

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>

#include "core/connection_limit.h"
#include "core/runtime.h"
#include "http/h1_server.h"
#include "tls/context.h"

namespace atls::proxy {

struct HttpsServerOptions {
  boost::asio::ip::tcp::endpoint listen;
  tls::SharedSslContext tls;
  http::H1ServerOptions h1;
  /// Deadline of the TLS handshake of a new connection.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(30)};
  std::size_t max_connections = 10000;
  /// Called for each connection refused by max_connections (metrics); may be empty.
  std::function<void()> on_connection_refused;
};

class HttpsServer {
 public:
  HttpsServer(Runtime& runtime, HttpsServerOptions options, http::RequestHandler handler);
  /// Binds and listens. Errors: the bind failure, naming the address.
  Outcome<boost::asio::ip::tcp::endpoint> start();
  /// Stops accepting; idle connections close, busy ones after their current response.
  void drain();
  std::size_t open_connections() const noexcept { return limit_.open(); }
  /// New connections present `context`; open ones keep theirs. Any thread.
  void replace_tls_context(tls::SharedSslContext context) { tls_.set(std::move(context)); }

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket,
                                     ConnectionLimit::Slot slot);

  Runtime& runtime_;
  HttpsServerOptions options_;
  http::RequestHandler handler_;
  tls::ContextSlot tls_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::shared_ptr<http::DrainSignal> drain_ = std::make_shared<http::DrainSignal>();
  ConnectionLimit limit_;
};

}  // namespace atls::proxy
