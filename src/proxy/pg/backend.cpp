#include "proxy/pg/backend.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "net/connect.h"
#include "proxy/pg/errors.h"
#include "proxy/pg/wire.h"
#include "tls/credentials.h"
#include "tls/ossl.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;

namespace {

Failure config_error(std::string what) {
  return Failure{make_error_code(Errc::BackendTlsConfig), std::move(what)};
}

}  // namespace

Outcome<std::shared_ptr<const BackendConnector>> BackendConnector::create(BackendOptions options) {
  if (options.server_name.empty()) {
    options.server_name = options.address.host;
  }
  std::shared_ptr<BackendConnector> connector(new BackendConnector(std::move(options)));
  const BackendOptions& o = connector->options_;
  if (o.ssl_mode == BackendSslMode::Disable) {
    if (o.negotiation == BackendNegotiation::Direct) {
      return config_error("direct TLS negotiation needs TLS (sslmode verify-full)");
    }
    return std::shared_ptr<const BackendConnector>(std::move(connector));
  }
  if (o.ca_file.empty()) {
    return config_error("verify-full needs the backend's CA certificate (--backend-ca)");
  }
  if (o.certificate_file.has_value() != o.key_file.has_value()) {
    return config_error("--backend-cert and --backend-key must be given together");
  }
  auto anchors = tls::load_certificates(o.ca_file);
  if (!anchors) {
    return anchors.error();
  }
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return config_error("SSL_CTX_new: " + tls::drain_openssl_errors());
  }
  // PostgreSQL's default ssl_min_protocol_version is TLSv1.2 (and CockroachDB accepts 1.2 and
  // 1.3); unlike the attested channel, the backend leg need not be TLS 1.3-only.
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Trust ONLY the configured anchors: a public CA must not be able to impersonate the backend.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const auto& anchor : *anchors) {
    if (X509_STORE_add_cert(store, anchor.get()) != 1) {
      return config_error("adding the backend CA: " + tls::drain_openssl_errors());
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // libpq 17 offers ALPN "postgresql" on both negotiation paths; PostgreSQL 15 ignores it and
  // a PostgreSQL 17 server requires it for direct TLS (standards.md §5.2).
  static constexpr unsigned char kAlpnWire[] = {10,  'p', 'o', 's', 't', 'g',
                                                'r', 'e', 's', 'q', 'l'};
  if (SSL_CTX_set_alpn_protos(ctx.get(), kAlpnWire, sizeof(kAlpnWire)) != 0) {
    return config_error("ALPN: " + tls::drain_openssl_errors());
  }
  if (o.certificate_file) {
    auto credentials = tls::load_credentials(*o.certificate_file, *o.key_file);
    if (!credentials) {
      return credentials.error();
    }
    if (SSL_CTX_use_certificate(ctx.get(), credentials->chain.front().get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), credentials->key.get()) != 1) {
      return config_error("backend client certificate: " + tls::drain_openssl_errors());
    }
    for (std::size_t i = 1; i < credentials->chain.size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx.get(), credentials->chain[i].get()) != 1) {
        return config_error("backend client chain: " + tls::drain_openssl_errors());
      }
    }
  }
  connector->tls_ = std::make_shared<tls::AsioSslContext>(ctx.release());
  return std::shared_ptr<const BackendConnector>(std::move(connector));
}

asio::awaitable<Outcome<DuplexPtr>> BackendConnector::connect() const {
  const std::string target = options_.address.to_string();
  auto socket = co_await net::connect_tcp(options_.address, options_.connect_timeout);
  if (!socket) {
    co_return Failure{make_error_code(Errc::BackendConnectFailed),
                      fmt::format("{}: {}", target, socket.error().describe())};
  }
  http::PlainStream plain(std::move(*socket));
  if (options_.ssl_mode == BackendSslMode::Disable) {
    co_return DuplexPtr(std::make_unique<SocketDuplex<http::PlainStream>>(std::move(plain)));
  }
  plain.expires_after(options_.connect_timeout);
  if (options_.negotiation == BackendNegotiation::Postgres) {
    // §55.2.10 "SSL Session Encryption": SSLRequest, then one byte.
    const Bytes request = encode_ssl_request();
    auto [write_ec, written] =
        co_await asio::async_write(plain, asio::buffer(request), http::kUseTuple);
    if (write_ec) {
      co_return Failure{make_error_code(Errc::BackendConnectFailed),
                        fmt::format("{}: sending SSLRequest: {}", target, write_ec.message())};
    }
    std::uint8_t answer = 0;
    auto [read_ec, n] = co_await asio::async_read(plain, asio::buffer(&answer, 1), http::kUseTuple);
    if (read_ec || n != 1) {
      co_return Failure{make_error_code(Errc::BackendClosed),
                        fmt::format("{}: no answer to SSLRequest ({})", target,
                                    read_ec ? read_ec.message() : "closed")};
    }
    if (answer == 'N') {
      co_return Failure{make_error_code(Errc::BackendTlsRefused),
                        fmt::format("{} does not accept TLS", target)};
    }
    if (answer != 'S') {
      // 'E': an error before TLS (e.g. the server is starting up); anything else is not pgwire.
      co_return Failure{make_error_code(Errc::BackendTlsRefused),
                        fmt::format("{} answered SSLRequest with byte 0x{:02x}", target, answer)};
    }
  }
  auto stream =
      std::make_unique<SocketDuplex<http::TlsStream>>(http::TlsStream(std::move(plain), *tls_));
  SSL* ssl = stream->stream().native_handle();
  if (auto prepared = tls::prepare_client_connection(ssl, options_.server_name); !prepared) {
    co_return Failure{
        make_error_code(Errc::BackendTlsConfig),
        fmt::format("server name \"{}\": {}", options_.server_name, describe(prepared.error()))};
  }
  auto [hs_ec] =
      co_await stream->stream().async_handshake(asio::ssl::stream_base::client, http::kUseTuple);
  if (hs_ec) {
    const long verify = SSL_get_verify_result(ssl);
    std::string why = hs_ec.message();
    if (verify != X509_V_OK) {
      why =
          fmt::format("certificate verification failed: {}", X509_verify_cert_error_string(verify));
    }
    co_return Failure{make_error_code(Errc::BackendTlsFailed), fmt::format("{}: {}", target, why)};
  }
  if (options_.negotiation == BackendNegotiation::Direct) {
    const unsigned char* alpn = nullptr;
    unsigned alpn_length = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
    const std::string_view selected(reinterpret_cast<const char*>(alpn), alpn_length);
    if (selected != kPostgresAlpn) {
      co_return Failure{make_error_code(Errc::BackendTlsFailed),
                        fmt::format("{}: direct TLS without ALPN postgresql (PostgreSQL 17+ "
                                    "required)",
                                    target)};
    }
  }
  boost::beast::get_lowest_layer(stream->stream()).expires_never();
  co_return DuplexPtr(std::move(stream));
}

}  // namespace atls::proxy::pg
