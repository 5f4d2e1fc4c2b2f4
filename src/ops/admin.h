#pragma once
// The admin endpoints (a separate plain-HTTP listener, never the attested one):
//   GET /health             liveness: 200 while the process serves
//   GET /attestation/ready  readiness: 200 when every readiness check passes, else 503; the JSON
//                           body lists each check (local attester works, policy loaded,
//                           collateral present and fresh, ...)
//   GET /metrics            Prometheus text exposition format 0.0.4
// docs/operations.md describes them; docs/metrics.md lists the metrics.

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "http/exchange.h"
#include "ops/metrics.h"

namespace atls::ops {

/// Named readiness checks, set by their owners (startup self-test, collateral service, reload).
class Readiness {
 public:
  void set(const std::string& check, bool ok, std::string detail = {});
  /// {"ready": bool, "checks": {name: {"ok": bool, "detail": "..."}}}; not ready when any check
  /// failed or none was ever set.
  nlohmann::json report() const;
  bool ready() const;

 private:
  struct Check {
    bool ok = false;
    std::string detail;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Check> checks_;
};

http::RequestHandler admin_handler(std::shared_ptr<Registry> registry,
                                   std::shared_ptr<Readiness> readiness, std::string version);

}  // namespace atls::ops
