#include "tls/context.h"

#include <boost/asio/ip/address.hpp>

#include "tls/alpn.h"
#include "tls/errors.h"

namespace atls::tls {
namespace {

Failure setup_failure(std::string what) {
  return Failure{make_error_code(Errc::ContextSetupFailed),
                 std::move(what) + ": " + drain_openssl_errors()};
}

// Same groups as the rustls peers (interop spec §1.1); OpenSSL's TLS 1.3 cipher suites already
// match theirs.
constexpr const char* kGroups = "X25519:P-256:P-384";

// The server's ALPN preference list lives in SSL_CTX ex_data so that it shares the context's
// lifetime.
int alpn_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
         void* /*argp*/) { delete static_cast<std::vector<std::string>*>(ptr); });
  return index;
}

int requested_ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int select_alpn_callback(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                         const unsigned char* in, unsigned int in_length, void* /*arg*/) {
  const auto* preference = static_cast<const std::vector<std::string>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), alpn_ex_index()));
  if (preference == nullptr) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  const auto chosen = select_alpn(*preference, ByteView(in, in_length));
  if (!chosen) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol (RFC 7301 §3.2)
  }
  // Point into the stable preference list, not into the temporary.
  for (const auto& candidate : *preference) {
    if (candidate == *chosen) {
      *out = reinterpret_cast<const unsigned char*>(candidate.data());
      *out_length = static_cast<unsigned char>(candidate.size());
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// Records that the server sent a CertificateRequest; called by OpenSSL only in that case.
int note_certificate_request(SSL* ssl, void* /*arg*/) {
  SSL_set_ex_data(ssl, requested_ex_index(), reinterpret_cast<void*>(1));
  return 1;
}

// --allow-self-signed: replaces path validation. The leaf must verify under its own key (so a
// CA-issued leaf fails, as in flashbots); intermediates, names and validity are ignored. The
// TLS 1.3 CertificateVerify signature is still checked by OpenSSL independently.
int verify_self_signed(X509_STORE_CTX* store_ctx, void* /*arg*/) {
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (leaf == nullptr) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  EVP_PKEY* key = X509_get0_pubkey(leaf);
  if (key == nullptr || X509_verify(leaf, key) != 1) {
    ERR_clear_error();
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_CERT_SIGNATURE_FAILURE);
    return 0;
  }
  X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
  return 1;
}

Outcome<SslCtxPtr> new_tls13_context(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) {
    return setup_failure("SSL_CTX_new");
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) {
    return setup_failure("TLS 1.3 settings");
  }
  return ctx;
}

Result<void> use_credentials(SSL_CTX* ctx, const Credentials& credentials) {
  if (SSL_CTX_use_certificate(ctx, credentials.chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, credentials.key.get()) != 1) {
    return make_error_code(Errc::ContextSetupFailed);
  }
  for (std::size_t i = 1; i < credentials.chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, credentials.chain[i].get()) != 1) {
      return make_error_code(Errc::ContextSetupFailed);
    }
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return make_error_code(Errc::KeyCertificateMismatch);
  }
  return {};
}

Result<void> add_trust_anchors(SSL_CTX* ctx, const std::vector<X509Ptr>& anchors) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& anchor : anchors) {
    if (X509_STORE_add_cert(store, anchor.get()) != 1) {
      // Adding a certificate that is already in the store is not an error.
      const unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        return make_error_code(Errc::ContextSetupFailed);
      }
      ERR_clear_error();
    }
  }
  return {};
}

SharedSslContext wrap(SslCtxPtr ctx) {
  // asio::ssl::context takes ownership of the native handle.
  return std::make_shared<AsioSslContext>(ctx.release());
}

}  // namespace

Outcome<SharedSslContext> make_server_context(const ServerContextOptions& options) {
  if (options.credentials == nullptr || options.credentials->chain.empty()) {
    return Failure{make_error_code(Errc::NoCertificate), "server context needs a certificate"};
  }
  auto ctx = new_tls13_context(TLS_server_method());
  if (!ctx) {
    return ctx.error();
  }
  if (auto r = use_credentials(ctx->get(), *options.credentials); !r) {
    return setup_failure("server certificate");
  }
  // The peers never resume sessions (every channel is attested afresh), so tickets would only
  // cost bytes and CPU.
  SSL_CTX_set_num_tickets(ctx->get(), 0);
  SSL_CTX_set_session_cache_mode(ctx->get(), SSL_SESS_CACHE_OFF);

  if (!options.alpn_preference.empty()) {
    auto* list = new std::vector<std::string>(options.alpn_preference);
    SSL_CTX_set_ex_data(ctx->get(), alpn_ex_index(), list);
    SSL_CTX_set_alpn_select_cb(ctx->get(), select_alpn_callback, nullptr);
  }
  if (options.require_client_certificate) {
    if (SSL_CTX_set_default_verify_paths(ctx->get()) != 1) {
      return setup_failure("system trust store");
    }
    if (auto r = add_trust_anchors(ctx->get(), options.client_trust_anchors); !r) {
      return setup_failure("client trust anchors");
    }
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_NONE, nullptr);
  }
  return wrap(std::move(*ctx));
}

Outcome<SharedSslContext> make_client_context(const ClientContextOptions& options) {
  auto ctx = new_tls13_context(TLS_client_method());
  if (!ctx) {
    return ctx.error();
  }
  SSL_CTX_set_session_cache_mode(ctx->get(), SSL_SESS_CACHE_OFF);
  if (!options.alpn.empty()) {
    const Bytes wire = alpn_wire(options.alpn);
    // Note: SSL_CTX_set_alpn_protos returns 0 on success.
    if (SSL_CTX_set_alpn_protos(ctx->get(), wire.data(), static_cast<unsigned>(wire.size())) != 0) {
      return setup_failure("ALPN");
    }
  }
  if (options.allow_self_signed) {
    SSL_CTX_set_cert_verify_callback(ctx->get(), verify_self_signed, nullptr);
  } else {
    if (SSL_CTX_set_default_verify_paths(ctx->get()) != 1) {
      return setup_failure("system trust store");
    }
    if (auto r = add_trust_anchors(ctx->get(), options.extra_trust_anchors); !r) {
      return setup_failure("trust anchors");
    }
    if (options.client_credentials != nullptr) {
      if (auto r = use_credentials(ctx->get(), *options.client_credentials); !r) {
        return setup_failure("client certificate");
      }
      SSL_CTX_set_cert_cb(ctx->get(), note_certificate_request, nullptr);
    }
  }
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  return wrap(std::move(*ctx));
}

Result<void> prepare_client_connection(SSL* ssl, std::string_view host) {
  const std::string name(host);
  if (name.empty()) {
    return make_error_code(Errc::InvalidHostname);
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(name, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    // IP literal: verified against IP SANs; no SNI (RFC 6066 §3 forbids literal addresses).
    if (X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str()) != 1) {
      return make_error_code(Errc::InvalidHostname);
    }
    return {};
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  // SSL_set_tlsext_host_name() is a macro with a C-style cast; call what it expands to.
  if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str())) != 1 ||
      SSL_set1_host(ssl, name.c_str()) != 1) {
    return make_error_code(Errc::InvalidHostname);
  }
  return {};
}

bool client_certificate_requested(const SSL* ssl) {
  return SSL_get_ex_data(ssl, requested_ex_index()) != nullptr;
}

}  // namespace atls::tls
