#include "policy/loader.h"

#include <gtest/gtest.h>

namespace atls::policy {
namespace {

TEST(MeasurementsLocation, UrlsAreHttpOrHttpsCaseInsensitiveAndTrimmed) {
  EXPECT_TRUE(is_measurements_url("https://example.invalid/policy.json"));
  EXPECT_TRUE(is_measurements_url("  HTTP://127.0.0.1:8080/p"));
  EXPECT_FALSE(is_measurements_url("policy.json"));
  EXPECT_FALSE(is_measurements_url("/etc/atls/https://odd-but-a-path.json"));
  EXPECT_FALSE(is_measurements_url("ftp://example.invalid/p"));
  EXPECT_FALSE(is_measurements_url(""));
}

}  // namespace
}  // namespace atls::policy
