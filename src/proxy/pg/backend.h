#pragma once
// Connections from the proxy-server to the database backend (standards.md §5.6 step 5):
// TCP, then either SSLRequest + TLS (expect 'S'; 'N' is a hard failure), or PostgreSQL 17 direct
// TLS (ClientHello first, ALPN "postgresql", §5.2), or — only when explicitly configured —
// plaintext. TLS always verifies the backend's certificate chain against the configured CA
// ONLY (not the system roots) and its name (DNS or IP SAN) against the configured server name:
// libpq's sslmode=verify-full, which CockroachDB's secure mode expects.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/address.h"
#include "proxy/pg/duplex.h"
#include "tls/context.h"

namespace atls::proxy::pg {

enum class BackendSslMode { Disable, VerifyFull };
enum class BackendNegotiation { Postgres, Direct };

/// ALPN protocol of PostgreSQL 17+ (standards.md §5.2).
inline constexpr std::string_view kPostgresAlpn = "postgresql";

struct BackendOptions {
  net::HostPort address;
  BackendSslMode ssl_mode = BackendSslMode::VerifyFull;
  BackendNegotiation negotiation = BackendNegotiation::Postgres;
  /// Name checked against the certificate (DNS SAN, or IP SAN for a literal); default: host.
  std::string server_name;
  /// PEM trust anchors for the backend's certificate (required for VerifyFull).
  std::string ca_file;
  /// Client certificate and key for certificate authentication (both or neither).
  std::optional<std::string> certificate_file;
  std::optional<std::string> key_file;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
};

class BackendConnector {
 public:
  /// Loads the CA and client credentials and builds the TLS context. Errors: BackendTlsConfig
  /// and the tls.* load errors (detail names the file).
  static Outcome<std::shared_ptr<const BackendConnector>> create(BackendOptions options);

  /// A new connection, ready for the StartupMessage (or a CancelRequest). Errors:
  /// BackendConnectFailed, BackendTlsRefused, BackendTlsFailed (detail carries the OpenSSL
  /// verification result), BackendClosed.
  boost::asio::awaitable<Outcome<DuplexPtr>> connect() const;

  const BackendOptions& options() const noexcept { return options_; }

 private:
  explicit BackendConnector(BackendOptions options) : options_(std::move(options)) {}
  BackendOptions options_;
  tls::SharedSslContext tls_;
};

}  // namespace atls::proxy::pg
