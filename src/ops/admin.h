#pragma once
// The admin endpoints (a separate plain-HTTP listener, never the attested one):
//   GET /health             liveness: 200 while the process serves
//   GET /attestation/ready  readiness: 200 when every readiness check passes, else 503; the JSON
//                           body lists each check (local attester works, policy loaded,
//                           collateral present and fresh, ...)
//   GET /metrics            Prometheus text exposition format 0.0.4
// docs/operations.md describes them; docs/metrics.md lists the metrics.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "http/exchange.h"
#include "ops/metrics.h"

namespace atls::ops {

/// The state of one readiness check.
struct ReadinessCheck {
  bool ok = false;
  std::string detail;
};

/// Named readiness checks: set by their owners when the state changes (start-up self-test,
/// reload, drain), or probed at every query when the state depends on time (collateral
/// freshness: a bundle expires without anything happening).
class Readiness {
 public:
  using Probe = std::function<ReadinessCheck()>;

  void set(const std::string& check, bool ok, std::string detail = {});
  /// `probe` runs at every report()/ready(), outside the internal lock, on the querying
  /// thread: it must be cheap and must not block (no I/O). Replaces a set() check of that name.
  void add_probe(const std::string& check, Probe probe);
  /// {"ready": bool, "checks": {name: {"ok": bool, "detail": "..."}}}; not ready when any check
  /// failed or none was ever set.
  nlohmann::json report() const;
  bool ready() const;

 private:
  std::map<std::string, ReadinessCheck> evaluate() const;

  mutable std::mutex mutex_;
  std::map<std::string, ReadinessCheck> checks_;
  std::map<std::string, Probe> probes_;
};

http::RequestHandler admin_handler(std::shared_ptr<Registry> registry,
                                   std::shared_ptr<Readiness> readiness, std::string version);

}  // namespace atls::ops
