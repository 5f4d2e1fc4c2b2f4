#include <gtest/gtest.h>

#include "ops/admin.h"

namespace atls::ops {
namespace {

TEST(Readiness, NotReadyBeforeAnyCheck) {
  Readiness readiness;
  EXPECT_FALSE(readiness.ready());
  EXPECT_EQ(readiness.report()["ready"], false);
}

TEST(Readiness, ReadyOnlyWhenEveryCheckPasses) {
  Readiness readiness;
  readiness.set("policy", true, "3 records");
  EXPECT_TRUE(readiness.ready());
  readiness.set("attester", false, "self-test pending");
  EXPECT_FALSE(readiness.ready());
  const auto report = readiness.report();
  EXPECT_EQ(report["ready"], false);
  EXPECT_EQ(report["checks"]["attester"]["detail"], "self-test pending");
  EXPECT_EQ(report["checks"]["policy"]["ok"], true);
  readiness.set("attester", true, "ok");
  EXPECT_TRUE(readiness.ready());
}

// A probe is evaluated at every query: collateral that expires makes the process unready
// without anyone calling set().
TEST(Readiness, ProbesAreEvaluatedAtEveryQuery) {
  Readiness readiness;
  readiness.set("policy", true);
  bool fresh = true;
  int calls = 0;
  readiness.add_probe("collateral", [&] {
    ++calls;
    return ReadinessCheck{fresh, fresh ? "fresh" : "expired"};
  });
  EXPECT_TRUE(readiness.ready());
  fresh = false;
  EXPECT_FALSE(readiness.ready());
  const auto report = readiness.report();
  EXPECT_EQ(report["checks"]["collateral"]["ok"], false);
  EXPECT_EQ(report["checks"]["collateral"]["detail"], "expired");
  EXPECT_EQ(calls, 3);
}

TEST(Readiness, SetReplacesAProbeOfTheSameName) {
  Readiness readiness;
  readiness.add_probe("collateral", [] { return ReadinessCheck{false, "missing"}; });
  EXPECT_FALSE(readiness.ready());
  readiness.set("collateral", true, "draining overrides");
  EXPECT_TRUE(readiness.ready());
  readiness.add_probe("collateral", [] { return ReadinessCheck{false, "missing again"}; });
  EXPECT_EQ(readiness.report()["checks"]["collateral"]["detail"], "missing again");
}

}  // namespace
}  // namespace atls::ops
