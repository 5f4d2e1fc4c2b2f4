#pragma once
// One upstream service as the collateral loaders see it. Every GET goes through here:
//  * the circuit breaker (circuit_breaker.h) and a Retry-After hold-off shared by all keys
//    (rate limits are per client, not per document), so a failing or throttling service gets
//    no requests until it may answer again — the request then fails fast with
//    collateral.circuit_open / collateral.rate_limited and no network traffic;
//  * single flight per URL: identical concurrent GETs share one request, and a successful
//    answer is reused for `reuse_window` (documents shared by many keys, e.g. the TDX QE
//    identity and root CA CRL, or AMD's certificate chain, are fetched once per refresh round);
//  * status interpretation (http_policy.h): only 2xx bodies reach the loader.
//
// Thread-safe; get() blocks (call it from fetch jobs only, never from an I/O thread).

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "attest/collateral/circuit_breaker.h"
#include "attest/collateral/fetcher.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::collateral {

struct UpstreamOptions {
  BreakerOptions breaker;
  /// A successful answer is reused by identical GETs for this long (0 = never).
  std::chrono::seconds reuse_window{60};
  /// Hold-off after a 429 without (or with a malformed) Retry-After.
  std::chrono::seconds default_hold_off{60};
  /// Longest Retry-After honoured (a server asking for more is retried after this).
  std::chrono::seconds max_hold_off{3600};
};

/// Observable state (metrics, `collateral show`).
struct UpstreamSnapshot {
  BreakerState breaker = BreakerState::Closed;
  unsigned consecutive_failures = 0;
  std::optional<SystemTime> opened_at;
  unsigned long long times_opened = 0;
  /// Requests are held back until then (Retry-After), if in the future.
  std::optional<SystemTime> hold_off_until;
  unsigned long long requests_sent = 0;     ///< requests that reached the Fetcher
  unsigned long long requests_failed = 0;   ///< of those, transport failures and non-2xx
  unsigned long long requests_refused = 0;  ///< failed fast (breaker open or hold-off)
  unsigned long long requests_shared = 0;   ///< answered by another identical request
};

class Upstream final {
 public:
  Upstream(FetcherPtr fetcher, std::shared_ptr<const Clock> clock, UpstreamOptions options = {});

  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  /// GETs `url` and returns the 2xx response.
  /// @return collateral.fetch_failed (transport, detail = net.* error), not_found,
  ///   http_status, rate_limited, server_error (from the status), circuit_open or
  ///   rate_limited (refused without a request).
  /// @par Thread Safety
  /// Safe to call concurrently; blocks while the request (or an identical one) runs.
  Outcome<net::HttpResponse> get(const std::string& url);

  /// Whether a request could be sent now (breaker closed or ready for a probe; no hold-off).
  bool available() const;
  /// The breaker state now.
  BreakerState breaker_state() const;
  UpstreamSnapshot snapshot() const;

 private:
  struct Flight {
    bool done = false;
    Outcome<net::HttpResponse> result = Failure{};
  };
  struct Reusable {
    SystemTime at;
    net::HttpResponse response;
  };

  Outcome<net::HttpResponse> send(const std::string& url);

  FetcherPtr fetcher_;
  std::shared_ptr<const Clock> clock_;
  UpstreamOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  CircuitBreaker breaker_;
  std::optional<SystemTime> hold_off_until_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  std::map<std::string, Reusable> reusable_;
  UpstreamSnapshot counters_;
};

}  // namespace atls::attest::collateral
