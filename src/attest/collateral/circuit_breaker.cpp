#include "attest/collateral/circuit_breaker.h"

namespace atls::attest::collateral {

std::string_view to_string(BreakerState state) noexcept {
  switch (state) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half_open";
  }
  return "closed";
}

BreakerState CircuitBreaker::state(SystemTime now) const {
  if (!opened_at_) {
    return BreakerState::Closed;
  }
  return now >= *opened_at_ + options_.cool_down ? BreakerState::HalfOpen : BreakerState::Open;
}

bool CircuitBreaker::would_allow(SystemTime now) const {
  switch (state(now)) {
    case BreakerState::Closed: return true;
    case BreakerState::Open: return false;
    case BreakerState::HalfOpen: return !probe_in_flight_;
  }
  return false;
}

bool CircuitBreaker::try_acquire(SystemTime now) {
  if (!would_allow(now)) {
    return false;
  }
  if (opened_at_) {
    probe_in_flight_ = true;
  }
  return true;
}

void CircuitBreaker::on_success() {
  failures_ = 0;
  opened_at_.reset();
  probe_in_flight_ = false;
}

void CircuitBreaker::on_failure(SystemTime now) {
  ++failures_;
  const bool probing = opened_at_.has_value();
  probe_in_flight_ = false;
  if (probing || failures_ >= options_.failure_threshold) {
    // A failed probe re-opens for a full cool-down; so does reaching the threshold.
    opened_at_ = now;
    ++times_opened_;
  }
}

}  // namespace atls::attest::collateral
