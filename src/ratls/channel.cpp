#include "ratls/channel.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>

#include "core/digest.h"
#include "core/offload.h"
#include "ratls/errors.h"
#include "ratls/report_data.h"
#include "tls/context.h"

namespace atls::ratls {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

Failure io_failure(const ErrorCode& ec, Errc timeout_code, std::string_view step) {
  if (ec == beast::error::timeout) {
    return Failure{make_error_code(timeout_code), std::string(step)};
  }
  return Failure{ec, std::string(step)};
}

// TLS handshake failures: name the certificate problem when there is one.
Failure handshake_failure(const ErrorCode& ec, TlsStream& stream) {
  if (ec == beast::error::timeout) {
    return Failure{make_error_code(Errc::HandshakeTimeout), "TLS handshake"};
  }
  std::string detail = "TLS handshake: " + ec.message();
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    detail += fmt::format(" (certificate verification: {})", X509_verify_cert_error_string(verify));
  }
  return Failure{ec, std::move(detail)};
}

struct SessionFacts {
  std::string alpn;
  Digest32 exporter{};
};

// Checks common to both sides right after the handshake (§2.4 table, first rows).
Outcome<SessionFacts> check_session(SSL* ssl) {
  if (SSL_version(ssl) != TLS1_3_VERSION) {
    return Failure{make_error_code(Errc::NotTls13), SSL_get_version(ssl)};
  }
  const unsigned char* alpn = nullptr;
  unsigned alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  SessionFacts facts;
  facts.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  if (facts.alpn.empty() || !is_ratls_protocol(facts.alpn)) {
    return Failure{make_error_code(Errc::AlpnMissing),
                   facts.alpn.empty() ? "no ALPN protocol negotiated"
                                      : "negotiated ALPN \"" + facts.alpn + "\""};
  }
  auto exporter = export_channel_binding(ssl);
  if (!exporter) {
    return Failure{exporter.error(), ""};
  }
  facts.exporter = *exporter;
  return facts;
}

asio::awaitable<Outcome<AttestationMessage>> make_local_message(
    const ChannelConfig& config, const attest::ReportData& report_data) {
  const auto type = config.attester->type();
  if (type == attest::AttestationType::None) {
    co_return AttestationMessage{type, {}};
  }
  auto attester = config.attester;
  auto generate = [attester, report_data] { return attester->generate(report_data); };
  auto generated =
      co_await offload(config.attestation_executor, std::move(generate), config.step_timeout);
  if (!generated) {
    co_return Failure{make_error_code(Errc::AttestationTimeout), "generating local evidence"};
  }
  if (!*generated) {
    co_return Failure{generated->error(),
                      fmt::format("generating {} evidence", attest::to_string(type))};
  }
  co_return AttestationMessage{type, std::move(**generated)};
}

asio::awaitable<Outcome<void>> send_message(TlsStream& stream, const AttestationMessage& message,
                                            const ChannelConfig& config) {
  auto frame = encode_frame(message);
  if (!frame) {
    co_return Failure{frame.error(),
                      fmt::format("local {} evidence of {} bytes", attest::to_string(message.type),
                                  message.evidence.size())};
  }
  beast::get_lowest_layer(stream).expires_after(config.step_timeout);
  auto [ec, written] = co_await asio::async_write(stream, asio::buffer(*frame), kUseTuple);
  if (ec) {
    co_return io_failure(ec, Errc::ExchangeTimeout, "sending attestation");
  }
  co_return Outcome<void>{};
}

Failure read_failure(const ErrorCode& ec, std::size_t got, std::string_view what) {
  if (ec == beast::error::timeout) {
    return Failure{make_error_code(Errc::ExchangeTimeout), "waiting for the peer's attestation"};
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return Failure{make_error_code(got == 0 ? Errc::PeerClosed : Errc::FrameTruncated),
                   std::string(what)};
  }
  return Failure{ec, std::string(what)};
}

asio::awaitable<Outcome<AttestationMessage>> receive_message(TlsStream& stream,
                                                             const ChannelConfig& config) {
  // One deadline for the whole frame: a peer trickling bytes cannot extend it.
  beast::get_lowest_layer(stream).expires_after(config.step_timeout);
  std::array<std::uint8_t, kFrameHeaderSize> header{};
  auto [header_ec, header_read] =
      co_await asio::async_read(stream, asio::buffer(header), kUseTuple);
  if (header_ec) {
    co_return read_failure(header_ec, header_read, "reading the attestation frame header");
  }
  auto length = parse_frame_header(header);
  if (!length) {
    co_return Failure{length.error(), "peer announced a larger frame"};
  }
  Bytes body(*length);
  auto [body_ec, body_read] = co_await asio::async_read(stream, asio::buffer(body), kUseTuple);
  if (body_ec) {
    co_return read_failure(body_ec, kFrameHeaderSize + body_read,
                           "reading the attestation frame body");
  }
  auto message = decode_message(body);
  if (!message) {
    co_return Failure{message.error(),
                      fmt::format("decoding a {}-byte attestation message", body.size())};
  }
  co_return std::move(*message);
}

// Blocking file write; runs on the attestation pool with the appraisal.
void log_evidence(const std::filesystem::path& directory, const AttestationMessage& message) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const auto path = directory / fmt::format("{}-{}", attest::to_string(message.type), nanos);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(message.evidence.data()),
            static_cast<std::streamsize>(message.evidence.size()));
  if (!out) {
    spdlog::warn("--log-dcap-quote: cannot write {}", path.string());
  }
}

asio::awaitable<Outcome<PeerAttestation>> appraise_peer(const ChannelConfig& config,
                                                        AttestationMessage message,
                                                        const attest::ReportData& expected) {
  const auto now = config.clock->now();
  const bool log = config.evidence_log_dir && message.type != attest::AttestationType::None;
  // One appraiser for the whole attempt, even if a reload swaps the slot meanwhile.
  auto appraiser = config.appraiser_slot ? config.appraiser_slot->get() : config.appraiser;
  if (!log && !appraiser->needs_verification(message.type)) {
    co_return appraiser->appraise(message, expected, now);
  }
  auto log_dir = log ? config.evidence_log_dir : std::nullopt;
  auto appraise = [appraiser, message = std::move(message), expected, now, log_dir] {
    if (log_dir) {
      log_evidence(*log_dir, message);
    }
    return appraiser->appraise(message, expected, now);
  };
  auto result =
      co_await offload(config.attestation_executor, std::move(appraise), config.step_timeout);
  if (!result) {
    co_return Failure{make_error_code(Errc::AttestationTimeout), "verifying the peer's evidence"};
  }
  co_return std::move(*result);
}

void note_peer_message(ChannelReport& report, const AttestationMessage& message) {
  report.peer_claimed_type = message.type;
  if (!message.evidence.empty()) {
    report.peer_evidence_sha256 = sha256_hex(std::string_view(
        reinterpret_cast<const char*>(message.evidence.data()), message.evidence.size()));
  }
}

std::string endpoint_text(TlsStream& stream) {
  boost::system::error_code ec;
  const auto endpoint = beast::get_lowest_layer(stream).socket().remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// Completes and delivers the report of one attempt.
void report_attempt(const ChannelConfig& config, ChannelReport& report,
                    const Outcome<ChannelInfo>& result, SteadyClock::time_point start) {
  if (!config.observer) {
    return;
  }
  report.total_seconds = seconds_since(start);
  if (config.attester) {
    report.local_type = config.attester->type();
  }
  if (result) {
    report.stage = ChannelStage::Established;
    report.peer_claims = result->peer.claims;
    report.matched_record = result->peer.matched_record;
    report.downgrade_reason = result->peer.downgrade_reason;
  } else {
    report.error = result.error().code;
    report.error_detail = result.error().detail;
  }
  config.observer->on_channel(report);
}

// The steps take pointers, not references: GCC 12 with -fsanitize=address miscompiles a
// coroutine's reference parameters that are forwarded from an enclosing coroutine's own
// reference parameters (the callee read garbage through `config`); pointers are plain values.
asio::awaitable<Outcome<ChannelInfo>> accept_steps(TlsStream* stream_ptr,
                                                   const ChannelConfig* config_ptr,
                                                   ChannelReport* report_ptr) {
  TlsStream& stream = *stream_ptr;
  const ChannelConfig& config = *config_ptr;
  ChannelReport& report = *report_ptr;
  beast::get_lowest_layer(stream).expires_after(config.step_timeout);
  const auto handshake_start = SteadyClock::now();
  auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  report.handshake_seconds = seconds_since(handshake_start);
  if (handshake_ec) {
    co_return handshake_failure(handshake_ec, stream);
  }
  SSL* ssl = stream.native_handle();
  auto session = check_session(ssl);
  if (!session) {
    co_return session.error();
  }
  report.alpn = session->alpn;

  // Our evidence binds our own leaf (§3.2): the one configured in the server context.
  const auto local_report =
      make_report_data(public_key_hash(SSL_get_certificate(ssl)), session->exporter);
  report.stage = ChannelStage::Generation;
  const auto generation_start = SteadyClock::now();
  auto local = co_await make_local_message(config, local_report);
  report.generation_seconds = seconds_since(generation_start);
  if (!local) {
    co_return local.error();
  }
  report.stage = ChannelStage::Exchange;
  if (auto sent = co_await send_message(stream, *local, config); !sent) {
    co_return sent.error();
  }

  auto received = co_await receive_message(stream, config);
  if (!received) {
    co_return received.error();
  }
  note_peer_message(report, *received);
  // The client's evidence binds the certificate it presented, or zeros.
  const auto expected =
      make_report_data(public_key_hash(SSL_get0_peer_certificate(ssl)), session->exporter);
  report.stage = ChannelStage::Verification;
  const auto verification_start = SteadyClock::now();
  auto peer = co_await appraise_peer(config, std::move(*received), expected);
  report.verification_seconds = seconds_since(verification_start);
  if (!peer) {
    co_return peer.error();
  }
  beast::get_lowest_layer(stream).expires_never();
  co_return ChannelInfo{session->alpn, http_version_for(session->alpn), local->type,
                        std::move(*peer)};
}

asio::awaitable<Outcome<ChannelInfo>> open_steps(TlsStream* stream_ptr, std::string server_name,
                                                 const ChannelConfig* config_ptr,
                                                 ChannelReport* report_ptr) {
  TlsStream& stream = *stream_ptr;
  const ChannelConfig& config = *config_ptr;
  ChannelReport& report = *report_ptr;
  SSL* ssl = stream.native_handle();
  if (auto prepared = tls::prepare_client_connection(ssl, server_name); !prepared) {
    co_return Failure{prepared.error(), std::string(server_name)};
  }
  beast::get_lowest_layer(stream).expires_after(config.step_timeout);
  const auto handshake_start = SteadyClock::now();
  auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
  report.handshake_seconds = seconds_since(handshake_start);
  if (handshake_ec) {
    co_return handshake_failure(handshake_ec, stream);
  }
  auto session = check_session(ssl);
  if (!session) {
    co_return session.error();
  }
  report.alpn = session->alpn;
  X509* server_leaf = SSL_get0_peer_certificate(ssl);
  if (server_leaf == nullptr) {
    co_return Failure{make_error_code(Errc::NoPeerCertificate), ""};
  }

  report.stage = ChannelStage::Exchange;
  auto received = co_await receive_message(stream, config);
  if (!received) {
    co_return received.error();
  }
  note_peer_message(report, *received);
  const auto expected = make_report_data(public_key_hash(server_leaf), session->exporter);
  report.stage = ChannelStage::Verification;
  const auto verification_start = SteadyClock::now();
  auto peer = co_await appraise_peer(config, std::move(*received), expected);
  report.verification_seconds = seconds_since(verification_start);
  if (!peer) {
    co_return peer.error();
  }

  // We hash our own leaf only if the server asked for it and so received it (§3.2); a
  // configured but unrequested client certificate would otherwise break the binding.
  const X509* own_leaf =
      tls::client_certificate_requested(ssl) ? SSL_get_certificate(ssl) : nullptr;
  const auto local_report = make_report_data(public_key_hash(own_leaf), session->exporter);
  report.stage = ChannelStage::Generation;
  const auto generation_start = SteadyClock::now();
  auto local = co_await make_local_message(config, local_report);
  report.generation_seconds = seconds_since(generation_start);
  if (!local) {
    co_return local.error();
  }
  report.stage = ChannelStage::Exchange;
  if (auto sent = co_await send_message(stream, *local, config); !sent) {
    co_return sent.error();
  }
  beast::get_lowest_layer(stream).expires_never();
  co_return ChannelInfo{session->alpn, http_version_for(session->alpn), local->type,
                        std::move(*peer)};
}

}  // namespace

std::string_view to_string(ChannelRole role) noexcept {
  return role == ChannelRole::Server ? "server" : "client";
}

std::string_view to_string(ChannelStage stage) noexcept {
  switch (stage) {
    case ChannelStage::Handshake: return "handshake";
    case ChannelStage::Generation: return "generation";
    case ChannelStage::Exchange: return "exchange";
    case ChannelStage::Verification: return "verification";
    case ChannelStage::Established: return "established";
  }
  return "unknown";
}

asio::awaitable<Outcome<ChannelInfo>> accept_channel(TlsStream& stream,
                                                     const ChannelConfig& config) {
  ChannelReport report;
  report.role = ChannelRole::Server;
  report.peer = endpoint_text(stream);
  const auto start = SteadyClock::now();
  TlsStream* stream_arg = &stream;
  const ChannelConfig* config_arg = &config;
  ChannelReport* report_arg = &report;
  auto result = co_await accept_steps(stream_arg, config_arg, report_arg);
  report_attempt(config, report, result, start);
  co_return result;
}

asio::awaitable<Outcome<ChannelInfo>> open_channel(TlsStream& stream, std::string_view server_name,
                                                   const ChannelConfig& config) {
  ChannelReport report;
  report.role = ChannelRole::Client;
  report.peer = endpoint_text(stream);
  const auto start = SteadyClock::now();
  std::string name(server_name);
  TlsStream* stream_arg = &stream;
  const ChannelConfig* config_arg = &config;
  ChannelReport* report_arg = &report;
  auto result = co_await open_steps(stream_arg, std::move(name), config_arg, report_arg);
  report_attempt(config, report, result, start);
  co_return result;
}

}  // namespace atls::ratls
