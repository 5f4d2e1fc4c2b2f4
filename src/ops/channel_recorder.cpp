#include "ops/channel_recorder.h"

#include <spdlog/spdlog.h>

#include "core/io_backend.h"
#include "ratls/errors.h"

#ifndef ATLS_VERSION
#define ATLS_VERSION "unknown"
#endif

namespace atls::ops {
namespace {

// Bounds the drift map: peers beyond this many are forgotten (oldest key order), so a flood of
// distinct client addresses cannot grow memory without limit.
constexpr std::size_t kMaxTrackedPeers = 10000;

std::string type_label(const std::optional<attest::AttestationType>& type) {
  return type ? std::string(attest::to_string(*type)) : std::string("unknown");
}

}  // namespace

ProxyMetrics::ProxyMetrics(std::shared_ptr<Registry> owned) : ProxyMetrics(*owned) {
  registry_owner = std::move(owned);
}

ProxyMetrics::ProxyMetrics(Registry& r)
    : registry(r),
      channel_attempts(r.counter("atls_channel_attempts_total",
                                 "Attested channel attempts by outcome and the stage they ended in",
                                 {"role", "result", "stage"})),
      channel_failures(r.counter("atls_channel_failures_total",
                                 "Failed channel attempts by stage and named error code",
                                 {"role", "stage", "reason"})),
      verifications(r.counter("atls_attestation_verifications_total",
                              "Peer attestations appraised (accepted, accepted as unattested, "
                              "rejected)",
                              {"role", "type", "result"})),
      attestation_failures(r.counter("atls_attestation_failures_total",
                                     "Peer evidence that failed verification, by named error code",
                                     {"role", "type", "reason"})),
      policy_violations(r.counter("atls_policy_violations_total",
                                  "Genuine or absent evidence refused by the measurement/TCB "
                                  "policy, by named error code",
                                  {"role", "reason"})),
      drift(r.counter("atls_measurement_drift_detected_total",
                      "A peer's accepted measurements differ from its previous attestation",
                      {"role"})),
      backend_requests(r.counter("atls_backend_requests_total",
                                 "Requests forwarded to the backend, by response status class",
                                 {"code"})),
      channels_active(
          r.gauge("atls_channels_active", "Established attested channels open now", {"role"})),
      handshake_seconds(r.histogram("atls_channel_handshake_seconds",
                                    "TLS handshake duration of channel attempts", {"role"})),
      generation_seconds(r.histogram("atls_attestation_generation_seconds",
                                     "Time to produce local evidence", {"type"})),
      verification_seconds(r.histogram("atls_attestation_verification_seconds",
                                       "Time to verify and appraise peer evidence", {"type"})),
      audit_records(r.counter("atls_audit_records_total", "Audit records written")),
      audit_write_failures(
          r.counter("atls_audit_write_failures_total", "Audit records that could not be written")),
      build_info(
          r.gauge("atls_build_info", "Build information (value 1)", {"version", "io_backend"})),
      reloads(r.counter("atls_config_reloads_total",
                        "Policy reloads on SIGHUP (failure: rejected, the old policy stays)",
                        {"result"})),
      pg_rejections(r.counter("atls_pg_rejections_total",
                              "Database connections and cancels refused by pg-server "
                              "(allowlist, host-based rules, TLS required, ...)",
                              {"reason"})),
      connections_refused(r.counter("atls_connections_refused_total",
                                    "Connections closed at accept because --max-connections "
                                    "were open on that listener",
                                    {"listener"})) {
  build_info.with({ATLS_VERSION, std::string(io_backend_name())}).set(1);
}

bool is_policy_violation(const ErrorCode& error) noexcept {
  if (error.category() != ratls::ratls_category()) {
    return false;
  }
  switch (static_cast<ratls::Errc>(error.value())) {
    case ratls::Errc::AttestationTypeNotAccepted:
    case ratls::Errc::AttestationGivenWhenNoneExpected:
    case ratls::Errc::MeasurementsNotAccepted:
    case ratls::Errc::TcbStatusNotAccepted: return true;
    default: return false;
  }
}

nlohmann::json measurements_json(const attest::Measurements& measurements) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [index, value] : measurements) {
    out[std::to_string(index)] = to_hex(value);
  }
  return out;
}

std::string status_class(int status) {
  if (status < 100 || status > 599) {
    return "error";
  }
  return std::to_string(status / 100) + "xx";
}

std::string drift_identity(const ratls::ChannelReport& report) {
  std::string identity(ratls::to_string(report.role));
  identity += ' ';
  if (report.role == ratls::ChannelRole::Server) {
    // "ip:port" or "[v6]:port" -> drop the port.
    const auto colon = report.peer.rfind(':');
    identity += colon == std::string::npos ? report.peer : report.peer.substr(0, colon);
  } else {
    identity += report.peer;
  }
  return identity;
}

ChannelRecorder::ChannelRecorder(std::shared_ptr<ProxyMetrics> metrics,
                                 std::shared_ptr<AuditLog> audit)
    : metrics_(std::move(metrics)), audit_(std::move(audit)) {}

void ChannelRecorder::on_channel(const ratls::ChannelReport& report) noexcept {
  try {
    const std::string role(ratls::to_string(report.role));
    const std::string stage(ratls::to_string(report.stage));
    const bool established = report.stage == ratls::ChannelStage::Established;
    auto& m = *metrics_;
    m.channel_attempts.with({role, established ? "established" : "failed", stage}).inc();
    m.handshake_seconds.with({role}).observe(report.handshake_seconds);
    if (report.generation_seconds > 0 && report.local_type != attest::AttestationType::None) {
      m.generation_seconds.with({std::string(attest::to_string(report.local_type))})
          .observe(report.generation_seconds);
    }
    const std::string peer_type = type_label(report.peer_claimed_type);
    const bool appraised = report.stage == ratls::ChannelStage::Verification || established;
    if (appraised && report.verification_seconds > 0 && report.peer_claimed_type &&
        *report.peer_claimed_type != attest::AttestationType::None) {
      m.verification_seconds.with({peer_type}).observe(report.verification_seconds);
    }
    if (established) {
      m.channels_active.with({role}).add(1);
      m.verifications.with({role, peer_type, report.peer_claims ? "accepted" : "unattested"}).inc();
      check_drift(report);
    } else {
      const std::string reason = error_id(report.error);
      m.channel_failures.with({role, stage, reason}).inc();
      if (report.stage == ratls::ChannelStage::Verification) {
        m.verifications.with({role, peer_type, "rejected"}).inc();
        if (is_policy_violation(report.error)) {
          m.policy_violations.with({role, reason}).inc();
        } else {
          m.attestation_failures.with({role, peer_type, reason}).inc();
        }
      }
    }
    audit(report);
  } catch (const std::exception& e) {
    // Only allocation failure can get here; recording must never take a channel down.
    spdlog::error("recording a channel report failed: {}", e.what());
  }
}

void ChannelRecorder::on_channel_closed(ratls::ChannelRole role) noexcept {
  try {
    metrics_->channels_active.with({std::string(ratls::to_string(role))}).add(-1);
  } catch (const std::exception&) {
  }
}

std::uint64_t ChannelRecorder::drift_events() const {
  std::lock_guard lock(mutex_);
  return drift_events_;
}

void ChannelRecorder::check_drift(const ratls::ChannelReport& report) {
  if (!report.peer_claims) {
    return;  // unattested peers have no measurements to compare
  }
  const auto& current = report.peer_claims->measurements;
  const std::string identity = drift_identity(report);
  std::optional<attest::Measurements> previous;
  {
    std::lock_guard lock(mutex_);
    auto it = last_measurements_.find(identity);
    if (it != last_measurements_.end()) {
      if (it->second != current) {
        previous = it->second;
        ++drift_events_;
      }
      it->second = current;
    } else {
      if (last_measurements_.size() >= kMaxTrackedPeers) {
        last_measurements_.erase(last_measurements_.begin());
      }
      last_measurements_.emplace(identity, current);
    }
  }
  if (!previous) {
    return;
  }
  const std::string role(ratls::to_string(report.role));
  metrics_->drift.with({role}).inc();
  // The new measurements passed the policy (the channel was established); drift is recorded so
  // that an operator sees a workload change that the policy allowed.
  spdlog::warn("measurement drift: {} {} now attests different measurements (record {})", role,
               report.peer, report.matched_record);
  if (audit_) {
    audit_->append(nlohmann::json{
        {"event", "measurement_drift"},
        {"role", role},
        {"peer", report.peer},
        {"type", std::string(attest::to_string(report.peer_claims->type))},
        {"previous_measurements", measurements_json(*previous)},
        {"measurements", measurements_json(current)},
        {"matched_record", report.matched_record},
    });
  }
}

void ChannelRecorder::audit(const ratls::ChannelReport& report) {
  // Attempts that never reached the attestation exchange (port scans, TLS failures) are not
  // attestation decisions; the log and channel_failures metric cover them.
  if (!audit_ || report.stage == ratls::ChannelStage::Handshake ||
      report.stage == ratls::ChannelStage::Generation) {
    return;
  }
  const bool established = report.stage == ratls::ChannelStage::Established;
  nlohmann::json record{
      {"event", "channel"},
      {"role", std::string(ratls::to_string(report.role))},
      {"peer", report.peer},
      {"alpn", report.alpn},
      {"local_type", std::string(attest::to_string(report.local_type))},
      {"peer_type", type_label(report.peer_claimed_type)},
      {"evidence_sha256", report.peer_evidence_sha256},
      {"decision",
       established ? (report.peer_claims ? "accepted" : "accepted_unattested") : "rejected"},
      {"stage", std::string(ratls::to_string(report.stage))},
  };
  if (report.peer_claims) {
    record["measurements"] = measurements_json(report.peer_claims->measurements);
    record["tcb_status"] = report.peer_claims->tcb_status;
    record["matched_record"] = report.matched_record;
  }
  if (!report.downgrade_reason.empty()) {
    record["downgrade_reason"] = report.downgrade_reason;
  }
  if (!established) {
    record["reason"] = error_id(report.error);
    record["detail"] = report.error_detail;
  }
  audit_->append(std::move(record));
}

}  // namespace atls::ops
