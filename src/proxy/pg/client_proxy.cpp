#include "proxy/pg/client_proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "proxy/http/attested_server.h"
#include "proxy/pg/errors.h"
#include "proxy/pg/frontend.h"
#include "proxy/pg/tunnel.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;
using asio::ip::tcp;

PgClientProxy::PgClientProxy(asio::io_context& io, PgClientOptions options)
    : io_(io),
      options_(std::move(options)),
      pool_(io.get_executor(), options_.pool),
      limit_(options_.max_connections, options_.on_connection_refused) {}

asio::awaitable<Outcome<void>> PgClientProxy::connect() {
  co_return co_await pool_.start();
}

Outcome<tcp::endpoint> PgClientProxy::listen() {
  auto acceptor = listen_on(io_, options_.listen);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_loop();
  asio::co_spawn(io_, std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void PgClientProxy::shutdown() {
  if (draining_) {
    return;
  }
  draining_ = true;
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  }
  pool_.shutdown_when_idle([this] { return starting_.open() > 0; });
}

asio::awaitable<void> PgClientProxy::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(http::kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
      co_return;
    }
    if (ec) {
      spdlog::warn("pg: accept failed: {}", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(http::kUseTuple);
      continue;
    }
    auto slot = limit_.try_acquire();
    if (!slot) {
      spdlog::warn("pg: connection limit {} reached; refusing a local connection", limit_.max());
      continue;  // the socket closes here
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto starting = starting_.try_acquire();
    auto local = serve_local(std::move(socket), std::move(*slot), std::move(starting));
    asio::co_spawn(io_, std::move(local), asio::detached);
  }
}

asio::awaitable<Outcome<DuplexPtr>> PgClientProxy::open_tunnel(tcp::endpoint source) {
  auto channel = co_await pool_.acquire();
  if (!channel) {
    co_return Failure{make_error_code(Errc::ChannelUnavailable), channel.error().describe()};
  }
  if (channel->version != ratls::HttpVersion::Http2) {
    co_return Failure{make_error_code(Errc::TunnelRefused),
                      "the proxy-server does not speak HTTP/2 inside the channel"};
  }
  auto to_server = std::make_shared<http::BodyPipe>();
  http::RequestHead request = make_tunnel_request(source);
  // Named and moved: see the GCC 12 note in core/offload.h.
  http::InformationalHandler no_interim;
  http::BodyPipePtr body = to_server;
  auto response =
      co_await channel->session->send(std::move(request), std::move(body), std::move(no_interim));
  if (!response) {
    co_return Failure{make_error_code(Errc::TunnelRefused), response.error().describe()};
  }
  if (response->head.status < 200 || response->head.status >= 300 || !response->body) {
    if (response->body) {
      response->body->abandon();
    }
    to_server->fail(make_error_code(Errc::TunnelRefused));
    co_return Failure{make_error_code(Errc::TunnelRefused),
                      fmt::format("proxy-server answered {}", response->head.status)};
  }
  co_return DuplexPtr(std::make_unique<PipeDuplex>(response->body, to_server));
}

namespace {

// A malformed start-up packet gets FATAL 08P01 naming the pg.* id (PostgreSQL answers "invalid
// length of startup packet" and the like); a client that just went away gets nothing.
asio::awaitable<void> refuse_packet(Duplex& local, const tcp::endpoint& source, ErrorCode ec) {
  if (ec.category() != pg_category() || ec == make_error_code(Errc::ClientClosed)) {
    co_return;
  }
  spdlog::info("pg: invalid start-up packet from local client {}: {}", source.address().to_string(),
               describe(ec));
  // Named, not temporaries: see the GCC 12 note in core/offload.h.
  const std::string message = fmt::format("invalid startup packet ({})", error_id(ec));
  co_await send_fatal(local, kSqlstateProtocolViolation, message);
}

bool is_negotiation(const StartupPacket& packet) {
  return std::holds_alternative<SslRequest>(packet) ||
         std::holds_alternative<GssEncRequest>(packet);
}

}  // namespace

asio::awaitable<void> PgClientProxy::serve_local(tcp::socket socket,
                                                 [[maybe_unused]] ConnectionLimit::Slot slot,
                                                 std::optional<ConnectionLimit::Slot> starting) {
  boost::system::error_code ec;
  const tcp::endpoint source = socket.remote_endpoint(ec);
  if (ec) {
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  SocketDuplex<http::PlainStream> plain{http::PlainStream(std::move(socket))};
  std::optional<Deadline> deadline;
  deadline.emplace(executor, plain, options_.startup_timeout);
  bool ssl_answered = false;
  bool gss_answered = false;
  for (;;) {
    auto next = co_await read_startup_packet(plain);
    if (!next) {
      co_await refuse_packet(plain, source, next.error());
      co_return;
    }
    auto& [raw, parsed] = *next;
    if (std::holds_alternative<GssEncRequest>(parsed) && !gss_answered) {
      gss_answered = true;
      const std::uint8_t no = 'N';
      if (!co_await plain.write_all(ByteView(&no, 1))) {
        co_return;
      }
      continue;
    }
    if (std::holds_alternative<SslRequest>(parsed) && !ssl_answered) {
      ssl_answered = true;
      if (!options_.local_tls) {
        const std::uint8_t no = 'N';
        if (!co_await plain.write_all(ByteView(&no, 1))) {
          co_return;
        }
        continue;
      }
      // CVE-2021-23214: nothing may follow the SSLRequest before the TLS handshake.
      if (plain.stream().socket().available(ec) > 0 || ec) {
        spdlog::info("pg: local client {}: {}", source.address().to_string(),
                     error_id(make_error_code(Errc::UnencryptedDataAfterSslRequest)));
        co_await send_fatal(plain, kSqlstateProtocolViolation,
                            "received unencrypted data after SSL request");
        co_return;
      }
      const std::uint8_t yes = 'S';
      if (!co_await plain.write_all(ByteView(&yes, 1))) {
        co_return;
      }
      deadline.reset();
      SocketDuplex<http::TlsStream> secure{
          http::TlsStream(std::move(plain.stream()), *options_.local_tls)};
      co_await serve_secure(secure, source, starting);
      co_return;
    }
    if (is_negotiation(parsed)) {
      spdlog::info("pg: local client {}: {}", source.address().to_string(),
                   error_id(make_error_code(Errc::TooManyNegotiations)));
      co_return;
    }
    deadline.reset();
    co_await run_session(plain, source, std::move(raw), std::move(parsed), starting);
    co_return;
  }
}

asio::awaitable<void> PgClientProxy::serve_secure(SocketDuplex<http::TlsStream>& secure,
                                                  tcp::endpoint source,
                                                  std::optional<ConnectionLimit::Slot>& starting) {
  auto executor = co_await asio::this_coro::executor;
  auto& lowest = boost::beast::get_lowest_layer(secure.stream());
  lowest.expires_after(options_.startup_timeout);
  auto [hs_ec] =
      co_await secure.stream().async_handshake(asio::ssl::stream_base::server, http::kUseTuple);
  if (hs_ec) {
    spdlog::info("pg: local TLS with {} failed: {}: {}", source.address().to_string(),
                 error_id(make_error_code(Errc::LocalTlsFailed)), hs_ec.message());
    co_return;
  }
  lowest.expires_never();
  Deadline deadline(executor, secure, options_.startup_timeout);
  bool answered = false;
  for (;;) {
    auto next = co_await read_startup_packet(secure);
    if (!next) {
      co_await refuse_packet(secure, source, next.error());
      co_return;
    }
    auto& [raw, parsed] = *next;
    if (is_negotiation(parsed)) {
      // Inside TLS a further request gets 'N' (as PostgreSQL answers after direct TLS).
      if (answered) {
        co_return;
      }
      answered = true;
      const std::uint8_t no = 'N';
      if (!co_await secure.write_all(ByteView(&no, 1))) {
        co_return;
      }
      continue;
    }
    deadline.disarm();
    co_await run_session(secure, source, std::move(raw), std::move(parsed), starting);
    co_return;
  }
}

asio::awaitable<void> PgClientProxy::run_session(Duplex& local, tcp::endpoint source, Bytes packet,
                                                 StartupPacket parsed,
                                                 std::optional<ConnectionLimit::Slot>& starting) {
  auto tunnel = co_await open_tunnel(source);
  starting.reset();  // a stream is open (or none will be): a drain may send its GOAWAY
  const bool cancel = std::holds_alternative<CancelRequest>(parsed);
  if (!tunnel) {
    spdlog::warn("pg: local client {}: {}", source.address().to_string(),
                 tunnel.error().describe());
    if (!cancel) {
      const std::string detail = error_id(tunnel.error().code);
      co_await send_fatal(local, kSqlstateConnectionFailure,
                          "atls-proxy: no attested channel to the proxy-server", detail);
    }
    co_return;
  }
  Duplex& remote = **tunnel;
  const auto sent = co_await remote.write_all(packet);
  if (!sent && cancel) {
    co_return;
  }
  // Even if the proxy-server stopped reading (it refused the session), its answer — a FATAL
  // ErrorResponse — is on its way back: the splice below relays it.
  if (cancel) {
    // The proxy-server never answers a cancel; it ends the stream once it has forwarded it.
    co_await remote.shutdown_write();
    auto executor = co_await asio::this_coro::executor;
    Deadline deadline(executor, remote, std::chrono::seconds(10));
    std::array<std::uint8_t, 64> sink{};
    for (;;) {
      auto n = co_await remote.read_some(sink);
      if (!n || *n == 0) {
        break;
      }
    }
    co_return;
  }
  const ErrorCode ended = co_await splice(local, remote, nullptr);
  if (ended) {
    spdlog::debug("pg: session of local client {} ended: {}", source.address().to_string(),
                  describe(ended));
  }
}

}  // namespace atls::proxy::pg
