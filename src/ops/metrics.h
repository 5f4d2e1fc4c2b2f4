#pragma once
// A small Prometheus metrics registry and the text exposition format 0.0.4
// (docs/standards.md §6; https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Label values must come from bounded sets — attestation type names, error ids from the
// compile-time error tables, fixed words — never from peer-controlled strings, so the number of
// series stays bounded whatever peers send (docs/metrics.md).
//
// Thread-safe: counters, gauges and histograms are atomics; looking up a labelled child takes a
// mutex once and returns a stable reference that callers may keep.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace atls::ops {

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// Raises the value to `total` if it is lower (never lowers it): for counters mirrored at
  /// scrape time from a monotonic total kept elsewhere (e.g. a fetcher's request count).
  void advance_to(std::uint64_t total) noexcept;
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;

  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
  /// Cumulative count of observations <= bounds[i] (the last entry is +Inf = count()).
  std::vector<std::uint64_t> cumulative_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, +Inf last
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

/// Latency buckets in seconds, 100 µs to 30 s.
std::vector<double> latency_buckets();

enum class MetricType { Counter, Gauge, Histogram };

/// A metric and its children, one per combination of label values.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}

  /// The child for `values` (one per label name, in order); created on first use.
  Metric& with(const std::vector<std::string>& values);
  /// The unlabelled metric (for families without labels).
  Metric& get() { return with({}); }

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  /// Drops every child whose label values are not in `keep`. For families a collector fills
  /// from a snapshot (entries that disappeared stop being exported); references to dropped
  /// children become invalid, so only such collectors may call it.
  void retain(const std::set<std::vector<std::string>>& keep);
  /// Visits every child (under the family's lock).
  void for_each(
      const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  /// Families live as long as the registry; the returned references stay valid.
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> labels = {},
                             std::vector<double> buckets = latency_buckets());

  /// Called at every scrape before rendering (for values computed on demand, e.g. collateral
  /// time to expiry).
  void add_collector(std::function<void()> collector);

  /// The Prometheus text exposition (format 0.0.4) of every family.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<GaugeFamily>> gauges_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
  std::vector<std::function<void()>> collectors_;
};

/// Escapes a label value for the exposition format (backslash, quote, newline).
std::string escape_label_value(std::string_view value);

}  // namespace atls::ops
