#include "attest/snp/circuit_breaker.h"

#include <algorithm>

namespace atls::attest::snp {

std::string_view to_string(BreakerState state) noexcept {
  switch (state) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options) : options_(options) {
  options_.failure_threshold = std::max(1U, options_.failure_threshold);
}

BreakerState CircuitBreaker::state(SystemTime now) const noexcept {
  if (!open_until_) {
    return BreakerState::Closed;
  }
  return now < *open_until_ ? BreakerState::Open : BreakerState::HalfOpen;
}

bool CircuitBreaker::try_acquire(SystemTime now) noexcept {
  switch (state(now)) {
    case BreakerState::Closed: return true;
    case BreakerState::Open: return false;
    case BreakerState::HalfOpen:
      if (probe_in_flight_) {
        return false;
      }
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() noexcept {
  failures_ = 0;
  open_until_.reset();
  probe_in_flight_ = false;
}

void CircuitBreaker::on_failure(SystemTime now) noexcept {
  ++failures_;
  const bool probe_failed = open_until_.has_value();
  if (probe_failed || failures_ >= options_.failure_threshold) {
    open_until_ = now + options_.cool_down;
  }
  probe_in_flight_ = false;
}

RateLimitBackoff::RateLimitBackoff(BackoffOptions options) : options_(options) {}

SystemTime RateLimitBackoff::on_rate_limited(SystemTime now,
                                             std::optional<std::chrono::seconds> retry_after) {
  ++consecutive_;
  std::chrono::seconds delay = options_.max;
  if (retry_after) {
    delay = std::min(*retry_after, options_.max);
  } else if (consecutive_ <= 20) {
    delay = std::min(options_.initial * (1L << (consecutive_ - 1)), options_.max);
  }
  until_ = now + delay;
  return *until_;
}

void RateLimitBackoff::on_success() noexcept {
  consecutive_ = 0;
  until_.reset();
}

std::optional<SystemTime> RateLimitBackoff::blocked_until(SystemTime now) const noexcept {
  if (until_ && now < *until_) {
    return until_;
  }
  return std::nullopt;
}

}  // namespace atls::attest::snp
