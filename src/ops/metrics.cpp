#include "ops/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace atls::ops {

void Gauge::add(double delta) noexcept {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

void Counter::advance_to(std::uint64_t total) noexcept {
  std::uint64_t current = value_.load(std::memory_order_relaxed);
  while (current < total &&
         !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double value) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  double current = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(current, current + value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0};
}

template <class Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& values) {
  std::lock_guard lock(mutex_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<Metric> child;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(buckets_);
    } else {
      child = std::make_unique<Metric>();
    }
    it = children_.emplace(values, std::move(child)).first;
  }
  return *it->second;
}

template <class Metric>
void Family<Metric>::retain(const std::set<std::vector<std::string>>& keep) {
  std::lock_guard lock(mutex_);
  std::erase_if(children_, [&keep](const auto& child) { return keep.count(child.first) == 0; });
}

template <class Metric>
void Family<Metric>::for_each(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [labels, metric] : children_) {
    fn(labels, *metric);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  counters_.push_back(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels)));
  if (counters_.back()->label_names().empty()) {
    counters_.back()->get();  // an unlabelled metric is exposed (as 0) from the start
  }
  return *counters_.back();
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  gauges_.push_back(
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labels)));
  if (gauges_.back()->label_names().empty()) {
    gauges_.back()->get();
  }
  return *gauges_.back();
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> labels, std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  histograms_.push_back(std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                                          std::move(labels), std::move(buckets)));
  return *histograms_.back();
}

void Registry::add_collector(std::function<void()> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out +=
        fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], escape_label_value(values[i]));
  }
  if (!extra_name.empty()) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  }
  return out.empty() ? std::string() : "{" + out + "}";
}

std::string format_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

void escape_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) {
    collect();
  }
  std::lock_guard lock(mutex_);
  std::string out;
  const auto header = [&out](const auto& family, std::string_view type) {
    out += "# HELP " + family.name() + " ";
    escape_help(out, family.help());
    out += "\n# TYPE " + family.name() + " " + std::string(type) + "\n";
  };
  for (const auto& family : counters_) {
    header(*family, "counter");
    family->for_each([&](const std::vector<std::string>& labels, const Counter& counter) {
      out += family->name() + label_set(family->label_names(), labels) + " " +
             std::to_string(counter.value()) + "\n";
    });
  }
  for (const auto& family : gauges_) {
    header(*family, "gauge");
    family->for_each([&](const std::vector<std::string>& labels, const Gauge& gauge) {
      out += family->name() + label_set(family->label_names(), labels) + " " +
             format_value(gauge.value()) + "\n";
    });
  }
  for (const auto& family : histograms_) {
    header(*family, "histogram");
    family->for_each([&](const std::vector<std::string>& labels, const Histogram& histogram) {
      const auto counts = histogram.cumulative_counts();
      const auto& bounds = histogram.upper_bounds();
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        out += family->name() + "_bucket" +
               label_set(family->label_names(), labels, "le", format_value(bounds[i])) + " " +
               std::to_string(counts[i]) + "\n";
      }
      out += family->name() + "_bucket" + label_set(family->label_names(), labels, "le", "+Inf") +
             " " + std::to_string(counts.back()) + "\n";
      out += family->name() + "_sum" + label_set(family->label_names(), labels) + " " +
             format_value(histogram.sum()) + "\n";
      out += family->name() + "_count" + label_set(family->label_names(), labels) + " " +
             std::to_string(histogram.count()) + "\n";
    });
  }
  return out;
}

}  // namespace atls::ops
