#pragma once
// Time is injected into verification and policy so that golden vectors verify at a fixed instant
// (cf. go-tdx-guest verify.Options.Now).

#include <chrono>

namespace atls {

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(SystemTime at) : at_(at) {}
  SystemTime now() const override { return at_; }

 private:
  SystemTime at_;
};

}  // namespace atls
