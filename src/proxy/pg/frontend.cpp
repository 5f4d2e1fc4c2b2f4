#include "proxy/pg/frontend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>

#include "proxy/pg/errors.h"
#include "proxy/pg/key_rewriter.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;

namespace {

std::string endpoint_text(const asio::ip::address& address, std::uint16_t port) {
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), port)
                         : fmt::format("{}:{}", address.to_string(), port);
}

// Each negotiation request is answered at most once per kind (libpq sends GSSENCRequest then
// SSLRequest at most); more is a confused or hostile client.
constexpr int kMaxNegotiations = 2;

}  // namespace

void report_rejection(const PgServerConfig& config, Rejection rejection) {
  spdlog::warn("pg: rejected {} ({}) user \"{}\" database \"{}\"{}: {}", rejection.client,
               rejection.via, rejection.user, rejection.database,
               rejection.hba_line > 0 ? fmt::format(" rule line {}", rejection.hba_line) : "",
               error_id(rejection.reason));
  if (config.on_reject) {
    config.on_reject(rejection);
  }
}

asio::awaitable<Result<std::pair<Bytes, StartupPacket>>> read_startup_packet(Duplex& duplex) {
  Bytes packet(4);
  if (auto r = co_await read_exact(duplex, packet, make_error_code(Errc::ClientClosed)); !r) {
    co_return r.error();
  }
  auto length = parse_startup_length(packet);
  if (!length) {
    co_return length.error();
  }
  packet.resize(*length);
  if (auto r = co_await read_exact(duplex, std::span(packet).subspan(4),
                                   make_error_code(Errc::PacketTruncated));
      !r) {
    co_return r.error();
  }
  auto parsed = parse_startup_packet(packet);
  if (!parsed) {
    co_return parsed.error();
  }
  co_return std::pair<Bytes, StartupPacket>{std::move(packet), std::move(*parsed)};
}

asio::awaitable<void> send_fatal(Duplex& client, std::string_view sqlstate,
                                 std::string_view message, std::string_view detail) {
  const Bytes error = encode_error_response("FATAL", sqlstate, message, detail);
  if (co_await client.write_all(error)) {
    co_await client.shutdown_write();
  }
}

asio::awaitable<void> handle_cancel(const CancelRequest& cancel, const FrontendContext& context,
                                    const PgServerConfig& config) {
  const std::string client = endpoint_text(context.address, context.port);
  auto target = config.cancels->lookup(cancel.pid, cancel.key, CancelMap::Clock::now());
  if (!target) {
    // Never answered (a cancel gets no reply, §55.2.7), so a guesser learns nothing.
    spdlog::info("pg: cancel from {} ({}) dropped: {}", client, context.via,
                 error_id(target.error()));
    co_return;
  }
  auto backend = co_await config.backend->connect();
  if (!backend) {
    spdlog::warn("pg: cancel from {} not delivered: {}: {}", client,
                 error_id(make_error_code(Errc::CancelForwardFailed)), backend.error().describe());
    co_return;
  }
  const Bytes request = encode_cancel_request(target->pid, target->key);
  if (auto sent = co_await (*backend)->write_all(request); !sent) {
    spdlog::warn("pg: cancel from {} not delivered: {}", client, describe(sent.error()));
    co_return;
  }
  // The backend closes the connection after reading the request; wait for that (bounded) so
  // the cancel is processed before we report it.
  std::array<std::uint8_t, 16> sink{};
  auto executor = co_await asio::this_coro::executor;
  Deadline deadline(executor, **backend, std::chrono::seconds(5));
  while (true) {
    auto n = co_await (*backend)->read_some(sink);
    if (!n || *n == 0) {
      break;
    }
  }
  spdlog::info("pg: cancel from {} ({}) forwarded to backend pid {}", client, context.via,
               target->pid);
}

asio::awaitable<void> serve_frontend(Duplex& client, FrontendContext context,
                                     std::shared_ptr<const PgServerConfig> config) {
  auto executor = co_await asio::this_coro::executor;
  const std::string client_text = endpoint_text(context.address, context.port);
  Deadline deadline(executor, client, config->startup_timeout);
  int negotiations = 0;
  Bytes packet;
  StartupMessage startup;
  for (;;) {
    auto next = co_await read_startup_packet(client);
    if (!next) {
      if (deadline.expired()) {
        spdlog::info("pg: {} ({}): {}", client_text, context.via,
                     error_id(make_error_code(Errc::StartupTimeout)));
        co_return;
      }
      const ErrorCode ec = next.error();
      if (ec != make_error_code(Errc::ClientClosed)) {
        spdlog::info("pg: invalid start-up packet from {} ({}): {}", client_text, context.via,
                     describe(ec));
        if (ec.category() == pg_category()) {
          const std::string message = fmt::format("invalid startup packet ({})", error_id(ec));
          co_await send_fatal(client, kSqlstateProtocolViolation, message);
        }
      }
      co_return;
    }
    auto& [raw, parsed] = *next;
    if (std::holds_alternative<SslRequest>(parsed) ||
        std::holds_alternative<GssEncRequest>(parsed)) {
      // Inside the attested channel or direct TLS the path is already encrypted: 'N', as
      // PostgreSQL answers a second SSLRequest after direct TLS (standards.md §5.2).
      if (++negotiations > kMaxNegotiations) {
        spdlog::info("pg: {} ({}): {}", client_text, context.via,
                     error_id(make_error_code(Errc::TooManyNegotiations)));
        co_return;
      }
      const std::uint8_t no = 'N';
      if (!co_await client.write_all(ByteView(&no, 1))) {
        co_return;
      }
      continue;
    }
    if (auto* cancel = std::get_if<CancelRequest>(&parsed)) {
      deadline.disarm();
      if (config->allowlist && !context.allowlist_checked &&
          !config->allowlist->allows(context.address)) {
        Rejection rejection;
        rejection.reason = make_error_code(Errc::AllowlistRejected);
        rejection.client = client_text;
        rejection.via = context.via;
        report_rejection(*config, rejection);
        co_await client.shutdown_write();
        co_return;
      }
      co_await handle_cancel(*cancel, context, *config);
      // An orderly end (END_STREAM / FIN), never an answer: §55.2.7.
      co_await client.shutdown_write();
      co_return;
    }
    packet = std::move(raw);
    startup = std::move(std::get<StartupMessage>(parsed));
    break;
  }
  deadline.disarm();

  // The allowlist is checked once the start-up packet is in (as PostgreSQL reports its HBA
  // failures), so the FATAL names the user and the client has finished writing. The direct
  // listener has already dropped refused addresses before TLS.
  if (config->allowlist && !context.allowlist_checked &&
      !config->allowlist->allows(context.address)) {
    Rejection rejection;
    rejection.reason = make_error_code(Errc::AllowlistRejected);
    rejection.client = client_text;
    rejection.via = context.via;
    rejection.user = std::string(startup.user());
    rejection.database = std::string(startup.database());
    report_rejection(*config, rejection);
    // Messages are named, never temporaries in co_await: see the GCC 12 note in core/offload.h.
    const std::string message =
        fmt::format("connection from host \"{}\" is not allowed by the proxy's IP allowlist",
                    context.address.to_string());
    const std::string detail = error_id(rejection.reason);
    co_await send_fatal(client, kSqlstateInvalidAuthorization, message, detail);
    co_return;
  }

  if (config->hba) {
    HbaRequest request;
    request.address = context.address;
    request.database = std::string(startup.database());
    request.user = std::string(startup.user());
    request.tls = context.tls;
    request.physical_replication = startup.physical_replication();
    request.attested = context.attested;
    const HbaDecision decision = config->hba->evaluate(request);
    if (!decision.allowed) {
      Rejection rejection;
      rejection.reason = decision.reason;
      rejection.client = client_text;
      rejection.via = context.via;
      rejection.user = request.user;
      rejection.database = request.database;
      rejection.hba_line = decision.line;
      report_rejection(*config, rejection);
      // The wording follows PostgreSQL's own (auth.c ClientAuthentication), so that tools
      // matching on it keep working; SQLSTATE 28000 as PostgreSQL sends.
      const std::string what =
          decision.line == 0 ? fmt::format(
                                   "no atls-proxy host-based rule for host \"{}\", user \"{}\", "
                                   "database \"{}\"",
                                   context.address.to_string(), request.user, request.database)
                             : fmt::format(
                                   "atls-proxy host-based rules reject connection for host \"{}\", "
                                   "user \"{}\", database \"{}\"",
                                   context.address.to_string(), request.user, request.database);
      const std::string detail = fmt::format(
          "reason {}{}", error_id(decision.reason),
          decision.line > 0 ? fmt::format(", rule at line {}", decision.line) : std::string());
      co_await send_fatal(client, kSqlstateInvalidAuthorization, what, detail);
      co_return;
    }
  }

  auto backend = co_await config->backend->connect();
  if (!backend) {
    spdlog::warn("pg: {} ({}) user \"{}\": {}", client_text, context.via, startup.user(),
                 backend.error().describe());
    const std::string detail = error_id(backend.error().code);
    co_await send_fatal(client, kSqlstateConnectionFailure,
                        "atls-proxy: cannot connect to the database backend", detail);
    co_return;
  }
  deadline.disarm();
  Duplex& server = **backend;
  if (auto sent = co_await server.write_all(packet); !sent) {
    const std::string detail = error_id(sent.error());
    co_await send_fatal(client, kSqlstateConnectionFailure,
                        "atls-proxy: the database backend closed the connection", detail);
    co_return;
  }
  spdlog::debug("pg: {} ({}) user \"{}\" database \"{}\" connected to the backend", client_text,
                context.via, startup.user(), startup.database());

  std::optional<CancelMap::Issued> issued;
  auto cancels = config->cancels;
  KeyRewriter rewriter(
      [&issued, cancels](std::uint32_t real_pid, ByteView real_key) -> Result<KeyRewriter::Issued> {
        auto fake = cancels->issue(real_pid, real_key);
        if (!fake) {
          return fake.error();
        }
        issued = *fake;
        return KeyRewriter::Issued{fake->pid, std::move(fake->key)};
      });
  const ErrorCode ended = co_await splice(client, server, &rewriter);
  if (issued) {
    cancels->release(issued->pid, issued->key);
  }
  if (ended) {
    spdlog::debug("pg: session of {} ({}) ended: {}", client_text, context.via, describe(ended));
  }
}

}  // namespace atls::proxy::pg
