#pragma once
// Helpers shared by the TDX unit tests: loading the real vectors of the shared test data
// (testdata/VECTORS.md §1, flashbots/CATALOG.md) and building verifiers for them.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "attest/tdx/collateral.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/quote_verifier.h"
#include "attest/tdx/trust.h"
#include "support/testdata.h"

namespace atls::attest::tdx::testing {

/// A Unix time in seconds.
inline SystemTime at_unix(std::int64_t seconds) {
  return SystemTime(std::chrono::seconds(seconds));
}

/// An RFC 3339 time ("2026-01-27T10:19:01Z").
inline SystemTime at(const char* rfc3339) {
  auto time = parse_rfc3339(rfc3339);
  EXPECT_TRUE(time) << rfc3339;
  return time.value_or(SystemTime{});
}

/// A quote file of the shared test data; `.hex` files are decoded (optional 0x prefix).
inline Bytes load_quote(const std::string& relative) {
  const auto path = atls::testing::testdata_path(relative);
  if (relative.size() > 4 && relative.substr(relative.size() - 4) == ".hex") {
    std::string text = atls::testing::read_text(path);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
      text.pop_back();
    }
    if (text.rfind("0x", 0) == 0) {
      text = text.substr(2);
    }
    auto bytes = from_hex(text);
    EXPECT_TRUE(bytes) << relative;
    return bytes.value_or(Bytes{});
  }
  return atls::testing::read_bytes(path);
}

/// dcap-qvl JSON (`.json`) or flashbots YAML (`.yaml`) collateral.
inline CollateralDocuments load_documents(const std::string& relative) {
  const std::string text = atls::testing::read_text(atls::testing::testdata_path(relative));
  auto documents = relative.size() > 5 && relative.substr(relative.size() - 5) == ".yaml"
                       ? collateral_from_yaml(text)
                       : collateral_from_json(text);
  EXPECT_TRUE(documents) << relative << ": " << (documents ? "" : documents.error().describe());
  return documents ? std::move(*documents) : CollateralDocuments{};
}

/// Parsed collateral (nullptr, with a test failure, when it does not parse).
inline CollateralPtr parse_collateral(CollateralDocuments documents) {
  auto collateral = Collateral::parse(std::move(documents));
  EXPECT_TRUE(collateral) << (collateral ? "" : collateral.error().describe());
  return collateral ? *collateral : nullptr;
}

inline CollateralPtr load_collateral(const std::string& relative) {
  return parse_collateral(load_documents(relative));
}

/// A verifier trusting only the pinned production Intel root (shared by all tests).
inline const QuoteVerifier& production_verifier() {
  static const QuoteVerifier verifier(TrustAnchors::intel_production().value());
  return verifier;
}

/// REPORTDATA of a quote, for tests that bind to the quote's own value.
inline ReportData report_data_of(ByteView quote) {
  ReportData out{};
  auto parsed = parse_quote(quote);
  if (parsed) {
    std::copy(parsed->body.report_data.begin(), parsed->body.report_data.end(), out.begin());
  }
  return out;
}

/// "tdx.<name>" of a failure.
inline std::string id_of(const Failure& failure) {
  return error_id(failure.code);
}

}  // namespace atls::attest::tdx::testing
