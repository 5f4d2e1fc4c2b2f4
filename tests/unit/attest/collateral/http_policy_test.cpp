// Retry-After and status interpretation (RFC 9110 §10.2.3, §5.6.7) for the collateral services.
#include "attest/collateral/http_policy.h"

#include <gtest/gtest.h>

#include "attest/collateral/errors.h"
#include "core/time.h"

namespace atls::attest::collateral {
namespace {

const SystemTime kNow = parse_rfc3339("1994-11-06T08:49:00Z").value();

TEST(CollateralHttpPolicy, RetryAfterDelaySeconds) {
  EXPECT_EQ(parse_retry_after("120", kNow), std::chrono::seconds(120));
  EXPECT_EQ(parse_retry_after(" 0 ", kNow), std::chrono::seconds(0));
  // Absurd values are capped (ten years), never overflow.
  const auto huge = parse_retry_after("99999999999999999999999999999", kNow);
  ASSERT_TRUE(huge);
  EXPECT_LE(huge->count(), 10LL * 366 * 24 * 3600);
  EXPECT_GT(huge->count(), 9LL * 365 * 24 * 3600);
}

TEST(CollateralHttpPolicy, RetryAfterHttpDateInAllThreeFormats) {
  // RFC 9110 §5.6.7's example instant, 37 seconds after kNow.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kNow), std::chrono::seconds(37));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kNow), std::chrono::seconds(37));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", kNow), std::chrono::seconds(37));
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", kNow), std::chrono::seconds(0));
  EXPECT_EQ(parse_http_date("Thu, 29 Feb 2024 23:59:60 GMT"),
            parse_rfc3339("2024-03-01T00:00:00Z"));
}

TEST(CollateralHttpPolicy, RetryAfterRejectsMalformedValues) {
  for (const char* bad : {"", "  ", "-1", "1.5", "12a", "0x10", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                          "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
                          "Sun Nov 6 08:49:37 1994", "Sun, 29 Feb 2023 08:49:37 GMT",
                          // Beyond what system_clock's nanoseconds can hold: refused, not UB.
                          "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 0000 00:00:00 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, kNow)) << bad;
  }
}

TEST(CollateralHttpPolicy, RetryAfterTruncationNeverCrashes) {
  const std::string full = "Sun, 06 Nov 1994 08:49:37 GMT";
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(parse_http_date(full.substr(0, n))) << n;
  }
}

net::HttpResponse response(unsigned status,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpResponse out;
  out.status = status;
  out.headers = std::move(headers);
  return out;
}

TEST(CollateralHttpPolicy, ClassifiesStatuses) {
  EXPECT_FALSE(classify_response(response(200), kNow).failure);
  EXPECT_FALSE(classify_response(response(204), kNow).failure);

  const auto not_found = classify_response(response(404), kNow);
  ASSERT_TRUE(not_found.failure);
  EXPECT_EQ(error_id(not_found.failure->code), "collateral.not_found");
  EXPECT_FALSE(not_found.upstream_failure);

  const auto bad_request = classify_response(response(400), kNow);
  EXPECT_EQ(error_id(bad_request.failure->code), "collateral.http_status");
  EXPECT_FALSE(bad_request.upstream_failure);

  const auto limited = classify_response(response(429, {{"retry-after", "30"}}), kNow);
  EXPECT_EQ(error_id(limited.failure->code), "collateral.rate_limited");
  EXPECT_TRUE(limited.upstream_failure);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds(30));

  const auto unavailable = classify_response(response(503, {{"Retry-After", "7"}}), kNow);
  EXPECT_EQ(error_id(unavailable.failure->code), "collateral.server_error");
  EXPECT_TRUE(unavailable.upstream_failure);
  EXPECT_EQ(unavailable.retry_after, std::chrono::seconds(7));

  // Retry-After only means something on 429 and 503.
  const auto internal = classify_response(response(500, {{"Retry-After", "7"}}), kNow);
  EXPECT_EQ(error_id(internal.failure->code), "collateral.server_error");
  EXPECT_FALSE(internal.retry_after);
  const auto garbage = classify_response(response(429, {{"Retry-After", "soon"}}), kNow);
  EXPECT_FALSE(garbage.retry_after);
}

}  // namespace
}  // namespace atls::attest::collateral
