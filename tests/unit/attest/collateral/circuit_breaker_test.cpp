// Circuit breaker state machine: closed -> open after N failures -> half-open probe after the
// cool-down -> closed on success, open again on failure.
#include "attest/collateral/circuit_breaker.h"

#include <gtest/gtest.h>

namespace atls::attest::collateral {
namespace {

const SystemTime kT0 = SystemTime(std::chrono::seconds(1'700'000'000));

TEST(CollateralCircuitBreaker, OpensAfterThresholdAndProbesAfterCoolDown) {
  CircuitBreaker breaker({3, std::chrono::seconds(60)});
  EXPECT_EQ(breaker.state(kT0), BreakerState::Closed);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(breaker.try_acquire(kT0));
    breaker.on_failure(kT0);
    EXPECT_EQ(breaker.state(kT0), BreakerState::Closed);
  }
  ASSERT_TRUE(breaker.try_acquire(kT0));
  breaker.on_failure(kT0);
  EXPECT_EQ(breaker.state(kT0), BreakerState::Open);
  EXPECT_EQ(breaker.opened_at(), kT0);
  EXPECT_EQ(breaker.times_opened(), 1U);
  EXPECT_FALSE(breaker.would_allow(kT0 + std::chrono::seconds(59)));
  EXPECT_FALSE(breaker.try_acquire(kT0 + std::chrono::seconds(59)));

  // Cool-down over: exactly one probe.
  const SystemTime t1 = kT0 + std::chrono::seconds(60);
  EXPECT_EQ(breaker.state(t1), BreakerState::HalfOpen);
  ASSERT_TRUE(breaker.try_acquire(t1));
  EXPECT_FALSE(breaker.try_acquire(t1));
  EXPECT_FALSE(breaker.would_allow(t1));
  // The probe fails: open for another full cool-down.
  breaker.on_failure(t1);
  EXPECT_EQ(breaker.state(t1 + std::chrono::seconds(59)), BreakerState::Open);
  EXPECT_EQ(breaker.times_opened(), 2U);

  const SystemTime t2 = t1 + std::chrono::seconds(60);
  ASSERT_TRUE(breaker.try_acquire(t2));
  breaker.on_success();
  EXPECT_EQ(breaker.state(t2), BreakerState::Closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0U);
  EXPECT_FALSE(breaker.opened_at());
  EXPECT_TRUE(breaker.try_acquire(t2));
  EXPECT_TRUE(breaker.try_acquire(t2));
}

TEST(CollateralCircuitBreaker, SuccessResetsTheFailureCount) {
  CircuitBreaker breaker({2, std::chrono::seconds(10)});
  breaker.on_failure(kT0);
  breaker.on_success();
  breaker.on_failure(kT0);
  EXPECT_EQ(breaker.state(kT0), BreakerState::Closed);
  breaker.on_failure(kT0);
  EXPECT_EQ(breaker.state(kT0), BreakerState::Open);
  EXPECT_EQ(to_string(BreakerState::HalfOpen), "half_open");
}

}  // namespace
}  // namespace atls::attest::collateral
