#pragma once
// How upstream HTTP answers are interpreted (RFC 9110): which statuses are failures of which
// kind, and the Retry-After header. Pure functions over untrusted bytes (fuzzed by
// tests/fuzz/collateral_http_fuzz.cpp).

#include <chrono>
#include <optional>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"
#include "net/http_get.h"

namespace atls::attest::collateral {

/// Parses a Retry-After value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date in any of the
/// three formats a recipient must accept (§5.6.7: IMF-fixdate, RFC 850, asctime). Returns the
/// delay from `now` (zero for a date in the past), or nullopt when the value is malformed.
/// Delays are capped at ten years so that arithmetic on them cannot overflow.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime now);

/// Parses an HTTP-date (the three formats above). nullopt when malformed.
std::optional<SystemTime> parse_http_date(std::string_view value);

/// What a response means to the cache.
struct ResponseClass {
  /// Null for 2xx; otherwise collateral.not_found (404), rate_limited (429), server_error
  /// (5xx) or http_status (anything else), with the status in the detail.
  std::optional<Failure> failure;
  /// Whether the answer counts against the upstream's availability (circuit breaker): 429 and
  /// 5xx do; 2xx and other 4xx show a working server.
  bool upstream_failure = false;
  /// Retry-After of a 429 or 503 (RFC 9110 §10.2.3), when present and well-formed.
  std::optional<std::chrono::seconds> retry_after;
};

ResponseClass classify_response(const net::HttpResponse& response, SystemTime now);

}  // namespace atls::attest::collateral
