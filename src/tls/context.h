#pragma once
// TLS 1.3-only contexts for the attested channel (interop spec §1.1, §1.3).
//
// A context is built once per configuration and shared by every connection made with it
// (SSL objects hold their own reference to the SSL_CTX, so a context may be replaced while
// connections made with it are still open).

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tls/credentials.h"

namespace atls::tls {

using AsioSslContext = boost::asio::ssl::context;
using SharedSslContext = std::shared_ptr<AsioSslContext>;

/// The context that new connections use, replaceable while connections are open (certificate
/// reload on SIGHUP). A connection keeps the context it started with: callers hold the
/// shared_ptr from get() for the connection's lifetime.
/// @par Thread Safety
/// get() and set() may be called from any thread.
class ContextSlot {
 public:
  explicit ContextSlot(SharedSslContext initial) : context_(std::move(initial)) {}
  SharedSslContext get() const {
    std::lock_guard lock(mutex_);
    return context_;
  }
  void set(SharedSslContext next) {
    std::lock_guard lock(mutex_);
    context_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  SharedSslContext context_;
};

struct ServerContextOptions {
  /// Certificate chain and key presented to clients (required).
  const Credentials* credentials = nullptr;
  /// ALPN protocols in server-preference order; a client offering none of them is refused
  /// with a no_application_protocol alert. Empty = no ALPN callback.
  std::vector<std::string> alpn_preference;
  /// Require and verify a client certificate (`--client-auth`).
  bool require_client_certificate = false;
  /// Trust anchors for client certificates in addition to the system roots.
  std::vector<X509Ptr> client_trust_anchors;
};

struct ClientContextOptions {
  /// Client certificate, presented only if the server requests one.
  const Credentials* client_credentials = nullptr;
  /// Trust anchors added to the system roots (`--tls-ca-certificate`).
  std::vector<X509Ptr> extra_trust_anchors;
  /// Accept only a genuinely self-signed server leaf and skip path, name and validity checks:
  /// trust then rests on the attestation, which binds the leaf's key (`--allow-self-signed`).
  bool allow_self_signed = false;
  /// ALPN protocols offered, in order.
  std::vector<std::string> alpn;
};

Outcome<SharedSslContext> make_server_context(const ServerContextOptions& options);
Outcome<SharedSslContext> make_client_context(const ClientContextOptions& options);

/// Per-connection client setup before the handshake: SNI (DNS names only) and server-name
/// verification against `host` (DNS SAN or IP SAN). No-op for name checks when the context was
/// built with allow_self_signed.
Result<void> prepare_client_connection(SSL* ssl, std::string_view host);

/// Whether the server asked this client connection for a certificate (valid after the
/// handshake). A client that was not asked sends none, so its report data must use zeros
/// (interop spec §3.2).
bool client_certificate_requested(const SSL* ssl);

}  // namespace atls::tls
