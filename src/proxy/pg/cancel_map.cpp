#include "proxy/pg/cancel_map.h"

#include <openssl/rand.h>

#include <algorithm>

#include "proxy/pg/errors.h"

namespace atls::proxy::pg {
namespace {

// OpenSSL's CSPRNG (RAND_bytes(3): 1 on success). A failure is reported, never papered over:
// a zero or predictable key would let anyone cancel the session's queries.
Result<Bytes> random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return make_error_code(Errc::CancelKeyUnavailable);
  }
  return out;
}

Result<std::uint32_t> random_pid() {
  auto random = random_bytes(4);
  if (!random) {
    return random.error();
  }
  const Bytes& b = *random;
  // Positive 31-bit values, never 0: clients print and compare pids as signed Int32.
  std::uint32_t pid =
      ((static_cast<std::uint32_t>(b[0]) << 24) | (static_cast<std::uint32_t>(b[1]) << 16) |
       (static_cast<std::uint32_t>(b[2]) << 8) | b[3]) &
      0x7fffffffU;
  return pid == 0 ? 1 : pid;
}

}  // namespace

CancelMap::CancelMap(CancelMapOptions options)
    : options_(options), tokens_(options.failure_burst) {}

Result<CancelMap::Issued> CancelMap::issue(std::uint32_t real_pid, ByteView real_key) {
  Issued issued;
  auto key = random_bytes(real_key.size());
  if (!key) {
    return key.error();
  }
  issued.key = std::move(*key);
  std::lock_guard lock(mutex_);
  for (;;) {
    auto pid = random_pid();
    if (!pid) {
      return pid.error();
    }
    issued.pid = *pid;
    if (!entries_.contains(issued.pid)) {
      break;
    }
  }
  if (entries_.size() < options_.max_entries) {
    Entry entry;
    entry.fake_key = issued.key;
    entry.target.pid = real_pid;
    entry.target.key.assign(real_key.begin(), real_key.end());
    entries_.emplace(issued.pid, std::move(entry));
  }
  return issued;
}

void CancelMap::release(std::uint32_t fake_pid, ByteView fake_key) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(fake_pid);
  if (it != entries_.end() && equal_constant_time(it->second.fake_key, fake_key)) {
    entries_.erase(it);
  }
}

void CancelMap::refill(Clock::time_point now) {
  if (last_refill_ && now > *last_refill_) {
    const double seconds = std::chrono::duration<double>(now - *last_refill_).count();
    tokens_ = std::min(options_.failure_burst, tokens_ + seconds * options_.failures_per_second);
  }
  if (!last_refill_ || now > *last_refill_) {
    last_refill_ = now;
  }
}

Result<CancelTarget> CancelMap::lookup(std::uint32_t fake_pid, ByteView fake_key,
                                       Clock::time_point now) {
  std::lock_guard lock(mutex_);
  refill(now);
  if (tokens_ < 1.0) {
    return make_error_code(Errc::CancelThrottled);
  }
  const auto it = entries_.find(fake_pid);
  // Constant-time comparison of the secret part; the pid is not secret (psql shows it).
  if (it == entries_.end() || it->second.fake_key.size() != fake_key.size() ||
      !equal_constant_time(it->second.fake_key, fake_key)) {
    tokens_ -= 1.0;
    return make_error_code(Errc::CancelUnknownKey);
  }
  return it->second.target;
}

std::size_t CancelMap::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace atls::proxy::pg
