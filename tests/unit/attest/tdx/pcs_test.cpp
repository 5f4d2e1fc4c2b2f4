// Intel PCS v4 / PCCS URL shapes (verification.md §1.5, interop §5.2 step 2) and bundle dates.
#include "attest/tdx/pcs.h"

#include <gtest/gtest.h>

#include "attest/tdx/trust.h"
#include "tdx_test_util.h"
#include "tls/credentials.h"

namespace atls::attest::tdx {
namespace {

using testing::at;

const Fmspc kFmspc{0xb0, 0xc0, 0x6f, 0x00, 0x00, 0x00};

TEST(TdxPcs, NormalisesTheBaseUrlLikeInterop) {
  EXPECT_EQ(normalize_pcs_base_url(""), "https://api.trustedservices.intel.com");
  EXPECT_EQ(normalize_pcs_base_url("  "), "https://api.trustedservices.intel.com");
  EXPECT_EQ(normalize_pcs_base_url("https://pccs:8081/"), "https://pccs:8081");
  EXPECT_EQ(normalize_pcs_base_url("https://pccs:8081/sgx/certification/v4"), "https://pccs:8081");
  EXPECT_EQ(normalize_pcs_base_url("https://pccs:8081/sgx/certification/v4/"), "https://pccs:8081");
  EXPECT_EQ(normalize_pcs_base_url("https://pccs:8081/tdx/certification/v4"), "https://pccs:8081");
  EXPECT_EQ(normalize_pcs_base_url("https://h/prefix/tdx/certification/v4"), "https://h/prefix");
  EXPECT_EQ(normalize_pcs_base_url("https://h/sgx/certification/v3"),
            "https://h/sgx/certification/v3");
}

TEST(TdxPcs, BuildsTheV4Requests) {
  const auto pcs = pcs_urls(normalize_pcs_base_url(""), kFmspc, PckCaType::Platform);
  EXPECT_EQ(pcs.tcb_info,
            "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=B0C06F000000");
  EXPECT_EQ(
      pcs.qe_identity,
      "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity?update=standard");
  EXPECT_EQ(pcs.pck_crl,
            "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform"
            "&encoding=der");
  EXPECT_FALSE(pcs.root_ca_crl);  // Intel PCS: the root's CRL distribution point
  EXPECT_TRUE(is_intel_pcs("https://API.trustedservices.intel.com"));
  EXPECT_TRUE(is_intel_pcs("https://api.trustedservices.intel.com:443"));
  EXPECT_FALSE(is_intel_pcs("https://api.trustedservices.intel.com.evil"));

  const auto pccs = pcs_urls("https://pccs:8081", kFmspc, PckCaType::Processor);
  EXPECT_EQ(pccs.pck_crl,
            "https://pccs:8081/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
  EXPECT_EQ(pccs.root_ca_crl, "https://pccs:8081/sgx/certification/v4/rootcacrl");
}

TEST(TdxPcs, ParsesFmspcAndCa) {
  EXPECT_EQ(parse_fmspc("B0c06F000000"), kFmspc);
  EXPECT_FALSE(parse_fmspc("b0c06f00000"));
  EXPECT_FALSE(parse_fmspc("b0c06f00000g"));
  EXPECT_EQ(parse_pck_ca_type("platform"), PckCaType::Platform);
  EXPECT_EQ(parse_pck_ca_type("processor"), PckCaType::Processor);
  EXPECT_FALSE(parse_pck_ca_type("Platform"));
}

TEST(TdxPcs, TheIntelRootPointsAtItsCrl) {
  auto root = atls::tls::parse_certificates(intel_root_ca_pem());
  ASSERT_TRUE(root);
  EXPECT_EQ(crl_distribution_point(root->front().get()), std::string(kIntelRootCaCrlUrl));
}

TEST(TdxPcs, DatesOfTheRealBundle) {
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = testing::load_collateral("dcap-qvl/tdx_quote_collateral.json");
  ASSERT_TRUE(collateral);
  auto dates = collateral_dates(*collateral);
  ASSERT_TRUE(dates) << dates.error().describe();
  EXPECT_EQ(dates->tcb_evaluation_data_number, 17U);
  EXPECT_LE(dates->tcb_info_issue_date, at("2025-06-19T10:32:27Z"));
  // The bundle's expiry is the end of its validity window (VECTORS.md: 2025-07-19T10:00:35Z;
  // that window also counts the quote's PCK certificates, which do not expire earlier).
  EXPECT_EQ(dates->expires_at, at("2025-07-19T10:00:35Z"));
  EXPECT_GT(dates->root_ca_crl_next_update, dates->expires_at);
  EXPECT_GT(dates->certificates_not_after, dates->expires_at);
}

}  // namespace
}  // namespace atls::attest::tdx
