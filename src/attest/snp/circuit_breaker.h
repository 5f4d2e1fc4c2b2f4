#pragma once
// Protection of a rate-limited upstream (AMD KDS, docs/verification.md §2.4: "KDS rate-limits
// aggressively"): a circuit breaker for consecutive failures and an exponential backoff for
// explicit rate-limit answers (HTTP 429/503, honouring Retry-After). Time is passed in, so both
// are deterministic under test. Neither is thread-safe: the owner serialises access.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.h"

namespace atls::attest::snp {

enum class BreakerState {
  Closed,    ///< requests flow
  Open,      ///< failing fast until the cool-down ends
  HalfOpen,  ///< cool-down over: one probe request may go; its outcome closes or reopens
};

/// "closed", "open", "half_open" (stable, for metrics).
std::string_view to_string(BreakerState state) noexcept;

struct CircuitBreakerOptions {
  /// Consecutive failures that open the circuit (at least 1).
  unsigned failure_threshold = 5;
  /// How long the circuit stays open before a probe is allowed.
  std::chrono::seconds cool_down{300};
};

class CircuitBreaker final {
 public:
  explicit CircuitBreaker(CircuitBreakerOptions options = {});

  /// Open turns into HalfOpen once `now` reaches the end of the cool-down.
  BreakerState state(SystemTime now) const noexcept;

  /// Whether a request may be sent now. In HalfOpen exactly one caller gets true (the probe)
  /// until on_success/on_failure reports its outcome.
  bool try_acquire(SystemTime now) noexcept;

  /// The upstream answered (any definitive answer, including 404): close the circuit.
  void on_success() noexcept;
  /// A failure (transport error, 5xx, rate limit, invalid body). Opens the circuit at the
  /// threshold, and reopens it when the half-open probe fails.
  void on_failure(SystemTime now) noexcept;

  unsigned consecutive_failures() const noexcept { return failures_; }
  /// End of the current cool-down while open.
  std::optional<SystemTime> open_until() const noexcept { return open_until_; }

 private:
  CircuitBreakerOptions options_;
  unsigned failures_ = 0;
  std::optional<SystemTime> open_until_;
  bool probe_in_flight_ = false;
};

struct BackoffOptions {
  /// First delay after a rate-limit answer without Retry-After; doubles per consecutive one.
  std::chrono::seconds initial{2};
  /// Upper bound for every delay, including a server's Retry-After.
  std::chrono::seconds max{900};
};

class RateLimitBackoff final {
 public:
  explicit RateLimitBackoff(BackoffOptions options = {});

  /// A 429/503 answer at `now`, with the server's Retry-After if it sent a usable one. Returns
  /// the end of the backoff: now + min(retry_after, max), or without it
  /// now + min(initial · 2^(n-1), max) for the n-th consecutive rate-limit answer.
  SystemTime on_rate_limited(SystemTime now, std::optional<std::chrono::seconds> retry_after);
  /// A successful answer ends the backoff and resets the exponent.
  void on_success() noexcept;
  /// The end of the backoff if it is still running at `now`.
  std::optional<SystemTime> blocked_until(SystemTime now) const noexcept;

 private:
  BackoffOptions options_;
  unsigned consecutive_ = 0;
  std::optional<SystemTime> until_;
};

}  // namespace atls::attest::snp
