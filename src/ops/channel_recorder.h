#pragma once
// Turns channel reports into metrics, audit records, drift events and log lines
// (docs/operations.md, docs/metrics.md). One recorder per process, shared by every channel.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ops/audit_log.h"
#include "ops/metrics.h"
#include "ratls/channel_observer.h"

namespace atls::ops {

/// The process's metric families (names and labels are listed in docs/metrics.md).
struct ProxyMetrics {
  explicit ProxyMetrics(Registry& registry);
  /// Shares ownership of `registry`: the families below live in it, and callbacks that hold
  /// the metrics (audit writer thread, pg rejection hook) may outlive everything else.
  explicit ProxyMetrics(std::shared_ptr<Registry> registry);

  std::shared_ptr<Registry> registry_owner;  // null when constructed from a reference
  Registry& registry;
  CounterFamily& channel_attempts;        // {role, result, stage}
  CounterFamily& channel_failures;        // {role, stage, reason}
  CounterFamily& verifications;           // {role, type, result}
  CounterFamily& attestation_failures;    // {role, type, reason}
  CounterFamily& policy_violations;       // {role, reason}
  CounterFamily& drift;                   // {role}
  CounterFamily& backend_requests;        // {code}
  GaugeFamily& channels_active;           // {role}
  HistogramFamily& handshake_seconds;     // {role}
  HistogramFamily& generation_seconds;    // {type}
  HistogramFamily& verification_seconds;  // {type}
  CounterFamily& audit_records;           // {}
  CounterFamily& audit_write_failures;    // {}
  GaugeFamily& build_info;                // {version, io_backend}
  CounterFamily& reloads;                 // {result}
  CounterFamily& pg_rejections;           // {reason}
  CounterFamily& connections_refused;     // {listener}
};

/// Whether `error` is a policy decision (the evidence was fine or irrelevant, the workload is
/// not accepted) rather than a verification failure.
bool is_policy_violation(const ErrorCode& error) noexcept;

/// Measurements as an audit record and token claim show them: {"<index>": "<hex>"}.
nlohmann::json measurements_json(const attest::Measurements& measurements);

/// Bucket for atls_backend_requests_total: "2xx" ... "5xx", or "error" (no response).
std::string status_class(int status);

class ChannelRecorder final : public ratls::ChannelObserver {
 public:
  /// `audit` may be null (no audit log configured).
  ChannelRecorder(std::shared_ptr<ProxyMetrics> metrics, std::shared_ptr<AuditLog> audit);

  void on_channel(const ratls::ChannelReport& report) noexcept override;
  void on_channel_closed(ratls::ChannelRole role) noexcept override;

  /// Drift events recorded so far (tests and /metrics read the counter instead).
  std::uint64_t drift_events() const;

 private:
  void check_drift(const ratls::ChannelReport& report);
  void audit(const ratls::ChannelReport& report);

  std::shared_ptr<ProxyMetrics> metrics_;
  std::shared_ptr<AuditLog> audit_;
  mutable std::mutex mutex_;
  // Last accepted measurements per peer identity (role + peer host; see drift_identity()).
  std::map<std::string, attest::Measurements> last_measurements_;
  std::uint64_t drift_events_ = 0;
};

/// The identity under which drift is tracked: a proxy-client's server is its address and port;
/// a proxy-server's client is its IP address (source ports change per connection).
std::string drift_identity(const ratls::ChannelReport& report);

}  // namespace atls::ops
