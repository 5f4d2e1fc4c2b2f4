#pragma once
// Proxy-issued cancel keys (standards.md §5.4).
//
// The backend's BackendKeyData (pid, secret key) is replaced by a proxy-issued pair before it
// reaches the client; this map remembers fake -> real for as long as the backend session lives.
// A CancelRequest (which arrives on a NEW connection, or a new stream of the attested channel)
// is looked up here and forwarded to the backend with the real values.
//
// Guessing defence: failed lookups draw from a token bucket; while it is empty every lookup is
// refused (CancelThrottled), including valid ones, so an attacker cannot sweep the key space
// faster than `failures_per_second`. CockroachDB's sqlproxy uses a similar penalty (1 s per
// failed cancel). The fake key is 32 random bits plus a random 31-bit pid under protocol 3.0.
//
// Thread-safe (one map serves every I/O thread of the proxy-server). Time is a parameter.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::proxy::pg {

struct CancelTarget {
  std::uint32_t pid = 0;  ///< the backend's real pid
  Bytes key;              ///< the backend's real secret key
};

struct CancelMapOptions {
  std::size_t max_entries = 1U << 20;
  /// Sustained failed lookups per second, and the burst allowed on top.
  double failures_per_second = 10.0;
  double failure_burst = 20.0;
};

class CancelMap {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CancelMap(CancelMapOptions options = {});

  struct Issued {
    std::uint32_t pid = 0;
    Bytes key;
  };
  /// Registers a backend session and returns the fake key data for its client (a key of the
  /// same length as the real one, from the OpenSSL CSPRNG). When the map is full the entry is
  /// not stored (cancel then silently does nothing for that session) but a fake key is still
  /// returned: the real key never reaches the client. Errors: CancelKeyUnavailable (the CSPRNG
  /// failed; the session must end, since it cannot be given a key).
  Result<Issued> issue(std::uint32_t real_pid, ByteView real_key);

  /// Forgets a session (call when the backend connection ends).
  void release(std::uint32_t fake_pid, ByteView fake_key);

  /// The real target for a cancel. Errors: CancelThrottled (too many failures recently; the
  /// key is not even looked up), CancelUnknownKey (costs one token).
  Result<CancelTarget> lookup(std::uint32_t fake_pid, ByteView fake_key, Clock::time_point now);

  std::size_t size() const;

 private:
  struct Entry {
    Bytes fake_key;
    CancelTarget target;
  };
  void refill(Clock::time_point now);

  CancelMapOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint32_t, Entry> entries_;  // by fake pid
  double tokens_;
  std::optional<Clock::time_point> last_refill_;
};

}  // namespace atls::proxy::pg
