#pragma once
// A Clock that tests move by hand (refresh, expiry and backoff without sleeping).

#include <atomic>
#include <chrono>

#include "core/clock.h"

namespace atls::testing {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start) : now_(start.time_since_epoch().count()) {}

  SystemTime now() const override { return SystemTime(SystemTime::duration(now_.load())); }
  void set(SystemTime at) { now_.store(at.time_since_epoch().count()); }
  void advance(SystemTime::duration by) { now_.fetch_add(by.count()); }

 private:
  std::atomic<SystemTime::rep> now_;
};

}  // namespace atls::testing
