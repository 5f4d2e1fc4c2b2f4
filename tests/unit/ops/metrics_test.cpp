#include "ops/metrics.h"

#include <gtest/gtest.h>

namespace atls::ops {
namespace {

TEST(Metrics, CounterWithLabelsRendersExpositionFormat) {
  Registry registry;
  auto& family = registry.counter("atls_test_total", "Things \\ counted\nhere", {"role", "reason"});
  family.with({"server", "ratls.frame_too_large"}).inc();
  family.with({"server", "ratls.frame_too_large"}).inc(2);
  family.with({"client", "a\"b\\c\nd"}).inc();
  const std::string text = registry.render();
  EXPECT_NE(text.find("# HELP atls_test_total Things \\\\ counted\\nhere\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE atls_test_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("atls_test_total{role=\"server\",reason=\"ratls.frame_too_large\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("atls_test_total{role=\"client\",reason=\"a\\\"b\\\\c\\nd\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, UnlabelledMetricsAreExposedAsZeroFromTheStart) {
  Registry registry;
  registry.counter("atls_unlabelled_total", "help");
  registry.gauge("atls_level", "help");
  const std::string text = registry.render();
  EXPECT_NE(text.find("atls_unlabelled_total 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("atls_level 0\n"), std::string::npos) << text;
}

TEST(Metrics, GaugeAddsAndSubtracts) {
  Registry registry;
  auto& gauge = registry.gauge("atls_open", "help", {"role"}).with({"server"});
  gauge.add(3);
  gauge.add(-1);
  EXPECT_DOUBLE_EQ(gauge.value(), 2.0);
  EXPECT_NE(registry.render().find("atls_open{role=\"server\"} 2\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& histogram =
      registry.histogram("atls_seconds", "help", {"type"}, {0.1, 1.0}).with({"sev-snp"});
  histogram.observe(0.05);
  histogram.observe(0.1);  // le is inclusive
  histogram.observe(0.5);
  histogram.observe(7.0);
  const std::string text = registry.render();
  EXPECT_NE(text.find("atls_seconds_bucket{type=\"sev-snp\",le=\"0.1\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("atls_seconds_bucket{type=\"sev-snp\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("atls_seconds_bucket{type=\"sev-snp\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("atls_seconds_sum{type=\"sev-snp\"} 7.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("atls_seconds_count{type=\"sev-snp\"} 4\n"), std::string::npos);
}

TEST(Metrics, CollectorsRunBeforeRendering) {
  Registry registry;
  auto& gauge = registry.gauge("atls_collected", "help").get();
  int calls = 0;
  registry.add_collector([&] { gauge.set(++calls * 10); });
  EXPECT_NE(registry.render().find("atls_collected 10\n"), std::string::npos);
  EXPECT_NE(registry.render().find("atls_collected 20\n"), std::string::npos);
}

TEST(Metrics, CounterAdvancesToAMirroredTotalButNeverBack) {
  Counter counter;
  counter.advance_to(5);
  EXPECT_EQ(counter.value(), 5u);
  counter.advance_to(3);  // a lower total (e.g. a restarted source) does not lower it
  EXPECT_EQ(counter.value(), 5u);
  counter.inc();
  counter.advance_to(9);
  EXPECT_EQ(counter.value(), 9u);
}

TEST(Metrics, RetainDropsChildrenNoLongerInTheSnapshot) {
  Registry registry;
  auto& family = registry.gauge("atls_entry_seconds", "help", {"key"});
  family.with({"a"}).set(1);
  family.with({"b"}).set(2);
  family.retain({{"b"}});
  const std::string text = registry.render();
  EXPECT_EQ(text.find("atls_entry_seconds{key=\"a\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("atls_entry_seconds{key=\"b\"} 2\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace atls::ops
