#include "proxy/pg/direct_listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "proxy/accept_loop.h"
#include "proxy/http/attested_server.h"
#include "proxy/pg/errors.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;
using asio::ip::tcp;

DirectListener::DirectListener(Runtime& runtime, DirectListenerOptions options,
                               std::shared_ptr<const PgServerConfig> config)
    : runtime_(runtime),
      options_(std::move(options)),
      config_(std::move(config)),
      tls_(options_.tls),
      limit_(options_.max_connections, options_.on_connection_refused) {}

Outcome<tcp::endpoint> DirectListener::start() {
  auto acceptor = listen_on(runtime_.main_io(), options_.listen);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_connections(
      acceptor_.get(), &runtime_, &limit_, "pg direct",
      [this](tcp::socket socket, std::size_t /*io_index*/, ConnectionLimit::Slot slot) {
        return serve(std::move(socket), std::move(slot));
      });
  asio::co_spawn(runtime_.main_io(), std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void DirectListener::stop_accepting() {
  if (acceptor_) {
    asio::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    });
  }
}

asio::awaitable<void> DirectListener::serve(tcp::socket socket,
                                            [[maybe_unused]] ConnectionLimit::Slot slot) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    co_return;
  }
  FrontendContext context;
  context.address = normalize_address(peer.address());
  context.port = peer.port();
  context.via = "direct";
  context.tls = true;
  context.attested = false;
  context.allowlist_checked = true;
  const std::string client_text =
      context.address.is_v6() ? fmt::format("[{}]:{}", context.address.to_string(), peer.port())
                              : fmt::format("{}:{}", context.address.to_string(), peer.port());
  const auto reject = [&](Errc reason) {
    Rejection rejection;
    rejection.reason = make_error_code(reason);
    rejection.client = client_text;
    rejection.via = context.via;
    report_rejection(*config_, rejection);
  };
  if (config_->allowlist && !config_->allowlist->allows(context.address)) {
    reject(Errc::AllowlistRejected);
    co_return;  // dropped before any TLS work
  }

  auto executor = co_await asio::this_coro::executor;
  SocketDuplex<http::PlainStream> duplex{http::PlainStream(std::move(socket))};
  bool direct_tls = false;
  {
    // Bounds the plaintext phase (peek, negotiation packets).
    Deadline deadline(executor, duplex, options_.handshake_timeout);
    // Peek: a TLS record (direct TLS) or a start-up packet length.
    std::uint8_t first = 0;
    auto [peek_ec, peeked] = co_await duplex.stream().socket().async_receive(
        asio::buffer(&first, 1), tcp::socket::message_peek, http::kUseTuple);
    if (peek_ec || peeked != 1) {
      co_return;
    }
    direct_tls = first == kTlsHandshakeRecord;
    int negotiations = 0;
    while (!direct_tls) {
      auto next = co_await read_startup_packet(duplex);
      if (!next) {
        if (next.error().category() == pg_category() &&
            next.error() != make_error_code(Errc::ClientClosed)) {
          spdlog::info("pg direct: invalid start-up packet from {}: {}", client_text,
                       describe(next.error()));
          // Named, not a temporary: see the GCC 12 note in core/offload.h.
          const std::string message =
              fmt::format("invalid startup packet ({})", error_id(next.error()));
          co_await send_fatal(duplex, kSqlstateProtocolViolation, message);
        }
        co_return;
      }
      auto& parsed = next->second;
      if (std::holds_alternative<GssEncRequest>(parsed)) {
        if (++negotiations > 2) {
          co_return;
        }
        const std::uint8_t no = 'N';
        if (!co_await duplex.write_all(ByteView(&no, 1))) {
          co_return;
        }
        continue;
      }
      if (auto* cancel = std::get_if<CancelRequest>(&parsed)) {
        deadline.disarm();
        co_await handle_cancel(*cancel, context, *config_);
        co_return;
      }
      if (std::holds_alternative<StartupMessage>(parsed)) {
        const auto& startup = std::get<StartupMessage>(parsed);
        Rejection rejection;
        rejection.reason = make_error_code(Errc::TlsRequired);
        rejection.client = client_text;
        rejection.via = context.via;
        rejection.user = std::string(startup.user());
        rejection.database = std::string(startup.database());
        report_rejection(*config_, rejection);
        co_await send_fatal(duplex, kSqlstateInvalidAuthorization,
                            "atls-proxy accepts database clients only over TLS",
                            "connect with sslmode=verify-full and the certificate from "
                            "`atls-proxy get-tls-cert`");
        co_return;
      }
      // SSLRequest. CVE-2021-23214: bytes after it in the same read would be plaintext the
      // client did not mean to send before encryption; PostgreSQL refuses them.
      boost::system::error_code available_ec;
      if (duplex.stream().socket().available(available_ec) > 0 || available_ec) {
        spdlog::info("pg direct: {}: {}", client_text,
                     error_id(make_error_code(Errc::UnencryptedDataAfterSslRequest)));
        co_await send_fatal(duplex, kSqlstateProtocolViolation,
                            "received unencrypted data after SSL request");
        co_return;
      }
      const std::uint8_t yes = 'S';
      if (!co_await duplex.write_all(ByteView(&yes, 1))) {
        co_return;
      }
      break;
    }
    deadline.disarm();
    if (deadline.expired()) {
      co_return;
    }
  }
  http::PlainStream plain = std::move(duplex.stream());
  plain.expires_after(options_.handshake_timeout);

  const tls::SharedSslContext tls_context = tls_.get();  // kept for the connection's lifetime
  auto tls = std::make_unique<SocketDuplex<http::TlsStream>>(
      http::TlsStream(std::move(plain), *tls_context));
  auto& stream = tls->stream();
  auto [hs_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, http::kUseTuple);
  if (hs_ec) {
    spdlog::info("pg direct: TLS with {} failed: {}: {}", client_text,
                 error_id(make_error_code(Errc::LocalTlsFailed)), hs_ec.message());
    co_return;
  }
  if (direct_tls) {
    const unsigned char* alpn = nullptr;
    unsigned alpn_length = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_length);
    if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != kPostgresAlpn) {
      // PostgreSQL 17 refuses direct TLS without ALPN too (protocol violation).
      reject(Errc::DirectTlsWithoutAlpn);
      co_await send_fatal(*tls, kSqlstateProtocolViolation,
                          "received direct SSL connection request without ALPN protocol "
                          "negotiation extension");
      co_return;
    }
  }
  boost::beast::get_lowest_layer(stream).expires_never();
  co_await serve_frontend(*tls, std::move(context), config_);
}

}  // namespace atls::proxy::pg
