#pragma once
// A circuit breaker for one upstream service (Intel PCS, a PCCS, AMD KDS): after
// `failure_threshold` consecutive availability failures (transport errors, 429, 5xx) requests
// stop for `cool_down`; then one probe request is let through (half-open): success closes the
// breaker, failure opens it for another cool-down. This keeps a down or rate-limiting service
// from being hammered by every refresh and cache miss, while cached documents keep being served.
//
// Not thread-safe on its own: Upstream (upstream.h) serialises access. Time is passed in.

#include <chrono>
#include <optional>
#include <string_view>

#include "core/clock.h"

namespace atls::attest::collateral {

enum class BreakerState {
  Closed,    ///< requests flow
  Open,      ///< requests fail fast until the cool-down ends
  HalfOpen,  ///< the cool-down ended: one probe request may go (or is in flight)
};

/// "closed", "open", "half_open" (metric label values).
std::string_view to_string(BreakerState state) noexcept;

struct BreakerOptions {
  unsigned failure_threshold = 5;
  std::chrono::seconds cool_down{60};
};

class CircuitBreaker final {
 public:
  explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

  /// Whether a request may be sent at `now`; when it may, the caller must report its outcome
  /// with on_success() or on_failure(). In the half-open state only one probe is granted until
  /// its outcome is reported.
  bool try_acquire(SystemTime now);

  /// Whether try_acquire(now) would grant a request (no state change).
  bool would_allow(SystemTime now) const;

  /// The request reached a working server (any 2xx, or a 4xx other than 429).
  void on_success();
  /// The request failed for availability reasons (transport error, 429, 5xx).
  void on_failure(SystemTime now);

  /// The state as observed at `now` (Open turns HalfOpen once the cool-down is over).
  BreakerState state(SystemTime now) const;
  unsigned consecutive_failures() const noexcept { return failures_; }
  /// When the breaker last opened (nullopt while closed).
  std::optional<SystemTime> opened_at() const noexcept { return opened_at_; }
  /// How many times it has opened since construction.
  unsigned long long times_opened() const noexcept { return times_opened_; }

 private:
  BreakerOptions options_;
  unsigned failures_ = 0;
  std::optional<SystemTime> opened_at_;
  bool probe_in_flight_ = false;
  unsigned long long times_opened_ = 0;
};

}  // namespace atls::attest::collateral
