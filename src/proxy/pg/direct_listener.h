#pragma once
// Direct mode (docs/database.md "Direct mode"): the proxy-server accepts pgwire itself, for clients
// without a proxy-client. TLS is mandatory and uses the proxy-server's own certificate — the
// one `atls-proxy get-tls-cert` prints after verifying the attestation — so a client that
// pinned it connects with sslmode=verify-full.
//
//   accept -> IP allowlist (dropped before any TLS work, standards.md §5.6 step 1)
//   first byte 0x16 -> PostgreSQL 17 direct TLS; ALPN "postgresql" required (§5.2)
//   otherwise 8-byte packet: SSLRequest -> 'S' + TLS (nothing may follow the request in the
//     same read: CVE-2021-23214); GSSENCRequest -> 'N'; plaintext CancelRequest -> cancel path
//     (libpq's PQcancel sends cancels in plaintext); plaintext StartupMessage -> FATAL 28000
//   inside TLS -> the common frontend (frontend.h)

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "core/connection_limit.h"
#include "core/runtime.h"
#include "proxy/pg/frontend.h"
#include "tls/context.h"

namespace atls::proxy::pg {

struct DirectListenerOptions {
  boost::asio::ip::tcp::endpoint listen;
  /// Server context with the proxy-server's certificate, ALPN preference {"postgresql"}.
  tls::SharedSslContext tls;
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(30)};
  /// --max-connections: more concurrent connections are closed at once after accept.
  std::size_t max_connections = 10000;
  /// Called for each connection refused by max_connections (metrics); may be empty.
  std::function<void()> on_connection_refused;
};

class DirectListener {
 public:
  DirectListener(Runtime& runtime, DirectListenerOptions options,
                 std::shared_ptr<const PgServerConfig> config);
  /// Binds and starts accepting. Errors: the bind failure, naming the address.
  Outcome<boost::asio::ip::tcp::endpoint> start();
  void stop_accepting();
  /// New connections present `context` (a reloaded certificate). Any thread.
  void replace_tls_context(tls::SharedSslContext context) { tls_.set(std::move(context)); }

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket,
                                     ConnectionLimit::Slot slot);

  Runtime& runtime_;
  DirectListenerOptions options_;
  std::shared_ptr<const PgServerConfig> config_;
  tls::ContextSlot tls_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  ConnectionLimit limit_;
};

}  // namespace atls::proxy::pg
