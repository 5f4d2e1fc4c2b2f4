// The online verification sources built from the global flags (cli/verification_sources.h):
// offline by default, the collateral service and the KDS cache only when asked for, flag
// validation, and which rejections count as transient.
#include "cli/verification_sources.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "attest/snp/errors.h"
#include "attest/snp/snp_verifier.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/tdx_verifier.h"
#include "cli/common.h"

namespace atls::cli {
namespace {

namespace fs = std::filesystem;

class VerificationSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("atls-sources-test-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  fs::path directory_;
};

TEST(CollateralPrefetch, ParsesFmspcAndOptionalCa) {
  const auto platform = parse_collateral_prefetch("00a06e570000");
  ASSERT_TRUE(platform);
  EXPECT_EQ(to_hex(platform->first), "00a06e570000");
  EXPECT_EQ(platform->second, attest::tdx::PckCaType::Platform);
  const auto processor = parse_collateral_prefetch("00806F050000:processor");
  ASSERT_TRUE(processor);
  EXPECT_EQ(to_hex(processor->first), "00806f050000");
  EXPECT_EQ(processor->second, attest::tdx::PckCaType::Processor);
  EXPECT_FALSE(parse_collateral_prefetch(""));
  EXPECT_FALSE(parse_collateral_prefetch("00a06e5700"));         // too short
  EXPECT_FALSE(parse_collateral_prefetch("00a06e570000:root"));  // unknown CA
  EXPECT_FALSE(parse_collateral_prefetch("zza06e570000"));
}

TEST(KdsCrlProducts, NamesAllAndDuplicates) {
  using attest::snp::Product;
  EXPECT_EQ(parse_kds_crl_products({"Milan"}), std::vector<Product>{Product::Milan});
  EXPECT_EQ(parse_kds_crl_products({"turin", "MILAN", "Milan"}),
            (std::vector<Product>{Product::Milan, Product::Turin}));
  EXPECT_EQ(parse_kds_crl_products({"all"}),
            (std::vector<Product>{Product::Milan, Product::Genoa, Product::Turin}));
  EXPECT_FALSE(parse_kds_crl_products({}));
  EXPECT_FALSE(parse_kds_crl_products({"Milan", "Venice"}));
  EXPECT_FALSE(parse_kds_crl_products({""}));
  EXPECT_FALSE(parse_kds_crl_products({"Milan-B0"}));
}

TEST_F(VerificationSourcesTest, OfflineWithoutFlags) {
  GlobalOptions global;
  auto sources = VerificationSources::create(global);
  ASSERT_TRUE(sources) << sources.error().describe();
  EXPECT_FALSE((*sources)->online());
  EXPECT_FALSE((*sources)->tdx_service());
  EXPECT_FALSE((*sources)->snp_cache());
  // Offline, nothing is ever fetched: a missing collateral is a plain rejection.
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::tdx::Errc::CollateralUnavailable)));
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::snp::Errc::CertificateMissing)));
  auto verifiers = (*sources)->make_verifiers(global);
  ASSERT_TRUE(verifiers) << verifiers.error().describe();
  EXPECT_EQ(verifiers->size(), 2u);
  EXPECT_TRUE((*sources)->wait_for_fetches(std::chrono::milliseconds(0)));
}

TEST_F(VerificationSourcesTest, CollateralCacheDirStartsTheTdxService) {
  GlobalOptions global;
  global.collateral_cache_dir = (directory_ / "collateral").string();
  global.pccs_url = "http://127.0.0.1:9/sgx/certification/v4/";
  global.collateral_refresh_interval_seconds = 120;
  auto sources = VerificationSources::create(global);
  ASSERT_TRUE(sources) << sources.error().describe();
  ASSERT_TRUE((*sources)->tdx_service());
  EXPECT_FALSE((*sources)->snp_cache());
  EXPECT_EQ((*sources)->tdx_service()->base_url(), "http://127.0.0.1:9");
  EXPECT_EQ((*sources)->tdx_service()->cache().options().directory.string(),
            (directory_ / "collateral").string());
  EXPECT_EQ((*sources)->tdx_service()->cache().options().max_age, std::chrono::seconds(120));
  EXPECT_LE((*sources)->tdx_service()->cache().options().max_backoff, std::chrono::seconds(120));
  EXPECT_TRUE((*sources)->is_transient(make_error_code(attest::tdx::Errc::CollateralUnavailable)));
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::snp::Errc::CertificateMissing)));
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::tdx::Errc::QuoteSignatureInvalid)));

  auto verifiers = (*sources)->make_verifiers(global);
  ASSERT_TRUE(verifiers) << verifiers.error().describe();
  ASSERT_EQ(verifiers->size(), 2u);
  EXPECT_TRUE(std::dynamic_pointer_cast<const attest::tdx::TdxVerifier>(verifiers->front()));
  (*sources)->stop();
  (*sources)->stop();  // idempotent
}

TEST_F(VerificationSourcesTest, KdsCacheDirOpensTheCertificateCache) {
  GlobalOptions global;
  global.kds_cache_dir = (directory_ / "kds").string();
  global.kds_url = "http://127.0.0.1:9";
  auto sources = VerificationSources::create(global);
  ASSERT_TRUE(sources) << sources.error().describe();
  EXPECT_FALSE((*sources)->tdx_service());
  ASSERT_TRUE((*sources)->snp_cache());
  ASSERT_TRUE((*sources)->kds());
  EXPECT_TRUE(fs::is_directory(directory_ / "kds"));
  EXPECT_TRUE((*sources)->is_transient(make_error_code(attest::snp::Errc::CertificateMissing)));
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::tdx::Errc::CollateralUnavailable)));
  // Without --kds-crls there is no revocation checking and no CRL state.
  EXPECT_TRUE((*sources)->snp_crl_products().empty());
  EXPECT_TRUE((*sources)->snp_crl_state().empty());
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::snp::Errc::CrlMissing)));
}

TEST_F(VerificationSourcesTest, KdsCrlsAreRequiredAndTracked) {
  GlobalOptions global;
  global.kds_cache_dir = (directory_ / "kds").string();
  global.kds_url = "http://127.0.0.1:9";  // nothing listens: every CRL fetch fails
  global.kds_crls = {"Genoa"};
  global.kds_crl_refresh_interval_seconds = 60;
  auto sources = VerificationSources::create(global);
  ASSERT_TRUE(sources) << sources.error().describe();
  EXPECT_EQ((*sources)->snp_crl_products(),
            std::vector<attest::snp::Product>{attest::snp::Product::Genoa});
  // A missing or expired CRL is cured by the worker's retry: transient.
  EXPECT_TRUE((*sources)->is_transient(make_error_code(attest::snp::Errc::CrlMissing)));
  EXPECT_TRUE((*sources)->is_transient(make_error_code(attest::snp::Errc::CrlExpired)));
  EXPECT_FALSE((*sources)->is_transient(make_error_code(attest::snp::Errc::CertificateRevoked)));
  // The warm-up gives up (a warning) and start-up continues; the state names both families.
  (*sources)->start(std::chrono::seconds(30));
  const auto state = (*sources)->snp_crl_state();
  ASSERT_EQ(state.size(), 2U);
  for (const auto& crl : state) {
    EXPECT_EQ(crl.product, attest::snp::Product::Genoa);
    EXPECT_FALSE(crl.present);
    ASSERT_TRUE(crl.last_error);
    EXPECT_EQ(error_id(crl.last_error->code), "snp.kds_unreachable");
  }
  EXPECT_EQ(state[0].kind, attest::snp::Signer::Vcek);
  EXPECT_EQ(state[1].kind, attest::snp::Signer::Vlek);
}

TEST_F(VerificationSourcesTest, InvalidFlagsAreUsageErrors) {
  {
    GlobalOptions global;
    global.collateral_cache_dir = directory_.string();
    global.collateral_prefetch = {"not-an-fmspc"};
    auto sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("--collateral-prefetch"), std::string::npos);
  }
  {
    // Prefetching needs the service.
    GlobalOptions global;
    global.collateral_prefetch = {"00a06e570000"};
    auto sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("--pccs-url"), std::string::npos);
  }
  {
    GlobalOptions global;
    global.collateral_cache_dir = directory_.string();
    global.pccs_url = "not a url";
    EXPECT_FALSE(VerificationSources::create(global));
  }
  {
    GlobalOptions global;
    global.kds_url = "::bad";
    global.kds_cache_dir = directory_.string();
    EXPECT_FALSE(VerificationSources::create(global));
  }
  {
    // --kds-crls needs the KDS fetcher, and known products.
    GlobalOptions global;
    global.kds_crls = {"Milan"};
    auto sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("--kds-crls needs the KDS fetcher"), std::string::npos);
    global.kds_url = "http://127.0.0.1:9";
    global.kds_crls = {"Milan", "Venice"};
    sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("--kds-crls: expected"), std::string::npos);
  }
  {
    // With --kds-crls, the mock ARK vets fetched CRLs under --insecure-trust-mock-tee.
    GlobalOptions global;
    global.kds_url = "http://127.0.0.1:9";
    global.kds_cache_dir = (directory_ / "k").string();
    global.kds_crls = {"Milan"};
    global.insecure_trust_mock_tee = (directory_ / "no-such-mock").string();
    auto sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("no mock SEV-SNP ARK"), std::string::npos);
  }
  {
    // The mock roots are required under --insecure-trust-mock-tee.
    GlobalOptions global;
    global.collateral_cache_dir = (directory_ / "c").string();
    global.insecure_trust_mock_tee = (directory_ / "no-such-mock").string();
    auto sources = VerificationSources::create(global);
    ASSERT_FALSE(sources);
    EXPECT_NE(sources.error().detail.find("no mock TDX root"), std::string::npos);
  }
}

}  // namespace
}  // namespace atls::cli
