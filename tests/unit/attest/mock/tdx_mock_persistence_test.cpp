// Mock TDX persistence: MockTdxPki::save/load, re-issued collateral, and the TDX half of the mock
// TEE directory (`mock-tee init`, attesters for dcap-tdx/gcp-tdx/qemu-tdx, verifiers trusting
// only the mock root, measurements from tdx-measurements.json).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "attest/errors.h"
#include "attest/mock/mock_tee.h"
#include "attest/mock/tdx_mock.h"
#include "attest/tdx/errors.h"
#include "core/clock.h"
#include "support/process.h"

namespace atls::attest::mock {
namespace {

namespace fs = std::filesystem;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

ReportData report_data(std::uint8_t seed) {
  ReportData out{};
  out.fill(seed);
  return out;
}

std::string verify_with(const tdx::TdxVerifier& verifier, const Attester& attester,
                        SystemTime now = kNow) {
  auto quote = attester.generate(report_data(3));
  if (!quote) {
    return describe(quote.error());
  }
  auto result = verifier.verify_detailed(attester.type(), *quote, report_data(3), now);
  return result ? std::string(tdx::to_string(result->status)) : error_id(result.error().code);
}

TEST(TdxMockPersistence, SavedPkiLoadsAndMintsVerifiableQuotes) {
  atls::testing::TempDir dir;
  MockTdxPkiOptions options;
  options.ca_type = tdx::PckCaType::Processor;
  options.fmspc = {1, 2, 3, 4, 5, 6};
  auto pki = MockTdxPki::create(kNow, options).value();
  ASSERT_TRUE(pki->save(dir.path()));
  for (const char* key : {"tdx-root.key", "tdx-pck-ca.key", "tdx-pck.key", "tdx-tcb-signer.key"}) {
    struct stat info {};
    ASSERT_EQ(::stat((fs::path(dir.path()) / key).c_str(), &info), 0) << key;
    EXPECT_EQ(info.st_mode & 0777, 0600U) << key;
  }

  auto loaded = MockTdxPki::load(dir.path());
  ASSERT_TRUE(loaded) << loaded.error().describe();
  EXPECT_EQ((*loaded)->root_der(), pki->root_der());
  EXPECT_EQ((*loaded)->pck_chain_pem(), pki->pck_chain_pem());
  EXPECT_EQ((*loaded)->qe_mr_signer(), pki->qe_mr_signer());
  EXPECT_EQ((*loaded)->options().fmspc, options.fmspc);
  EXPECT_EQ((*loaded)->options().ca_type, tdx::PckCaType::Processor);
  EXPECT_EQ((*loaded)->collateral()->digest(), pki->collateral()->digest());

  // A quote minted with the loaded PKI verifies with the original's verifier, and vice versa
  // through the files alone.
  auto attester = MockTdxAttester::create(*loaded).value();
  EXPECT_EQ(verify_with(*pki->make_verifier(), *attester), "UpToDate");
  auto from_files = load_mock_tdx_verifier(dir.path());
  ASSERT_TRUE(from_files) << from_files.error().describe();
  EXPECT_EQ(verify_with(*from_files->verifier, *MockTdxAttester::create(pki).value()), "UpToDate");
  EXPECT_TRUE(from_files->anchors->insecure());
}

TEST(TdxMockPersistence, LoadNamesTheBrokenFile) {
  atls::testing::TempDir dir;
  auto pki = MockTdxPki::create(kNow).value();
  ASSERT_TRUE(pki->save(dir.path()));
  std::ofstream(fs::path(dir.path()) / "tdx-pki.json") << "{\"fmspc\":\"00\"}";
  auto loaded = MockTdxPki::load(dir.path());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(error_id(loaded.error().code), "tdx_mock.import_failed");
  EXPECT_NE(loaded.error().detail.find("tdx-pki.json"), std::string::npos);
  fs::remove(fs::path(dir.path()) / "tdx-pck.key");
  loaded = MockTdxPki::load(dir.path());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().detail.find("tdx-pck.key"), std::string::npos);
}

TEST(TdxMockPersistence, ReissuedCollateralHasNewDatesUnderTheSamePki) {
  auto pki = MockTdxPki::create(kNow).value();
  MockTdxCollateralDates dates;
  dates.issued = kNow + std::chrono::hours(24 * 40);
  dates.tcb_evaluation_data_number = 9;
  auto documents = pki->issue_collateral(dates);
  ASSERT_TRUE(documents) << documents.error().describe();
  auto collateral = tdx::Collateral::parse(*documents).value();
  EXPECT_EQ(collateral->tcb_info().issue_date, dates.issued);
  EXPECT_EQ(collateral->tcb_info().next_update, dates.issued + std::chrono::hours(24 * 30));
  EXPECT_EQ(collateral->qe_identity().tcb_evaluation_data_number, 9U);
  const tdx::QuoteVerifier verifier(pki->trust_anchors());
  EXPECT_TRUE(verifier.verify_collateral(*collateral, dates.issued + std::chrono::hours(1)));
  // The original has expired by then; the re-issued bundle verifies a fresh quote.
  auto old = verifier.verify_collateral(*pki->collateral(), dates.issued + std::chrono::hours(1));
  ASSERT_FALSE(old);
  auto source = std::make_shared<tdx::StaticCollateralSource>();
  ASSERT_TRUE(source->add(collateral));
  tdx::TdxVerifierOptions options;
  options.trust_anchors = pki->trust_anchors();
  const tdx::TdxVerifier fresh(source, options);
  EXPECT_EQ(verify_with(fresh, *MockTdxAttester::create(pki).value(),
                        dates.issued + std::chrono::hours(1)),
            "UpToDate");
}

TEST(TdxMockPersistence, MeasurementsFromJson) {
  MockTdxQuoteOptions options;
  const std::string mrtd(96, 'a');
  const std::string rtmr3(96, 'B');
  ASSERT_TRUE(apply_mock_tdx_measurements("{\"mrtd\":\"" + mrtd + "\",\"rtmr3\":\"" + rtmr3 + "\"}",
                                          options));
  EXPECT_EQ(options.mr_td[0], 0xaa);
  EXPECT_EQ(options.rtmr[3][47], 0xbb);
  EXPECT_EQ(options.rtmr[0][0], 0x00);
  const std::vector<std::string> bad_inputs{
      "[]",
      "{\"mrtd\":\"aa\"}",
      "{\"rtmr4\":\"" + mrtd + "\"}",
      "{\"mrtd\":1}",
      "{\"MRTD\":\"" + mrtd + "\"}",
      "{",
      "{\"mrtd\":\"" + mrtd + "\",\"mrtd\":\"" + mrtd + "\"}"};
  for (const std::string& bad : bad_inputs) {
    MockTdxQuoteOptions untouched;
    auto applied = apply_mock_tdx_measurements(bad, untouched);
    ASSERT_FALSE(applied) << bad;
    EXPECT_EQ(error_id(applied.error().code), "tdx_mock.invalid_options") << bad;
    EXPECT_EQ(untouched.mr_td[0], 0x00);
  }
}

TEST(TdxMockPersistence, MockTeeDirectoryMintsAndVerifiesTdx) {
  atls::testing::TempDir dir;
  ASSERT_TRUE(init_mock_tee(dir.path()));
  for (const char* file :
       {"snp-ark.crt", "tdx-root.crt", "tdx-pck.key", "tdx-collateral.json", "tdx-pki.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(dir.path()) / file)) << file;
  }
  auto verifiers = make_mock_verifiers(dir.path());
  ASSERT_TRUE(verifiers) << verifiers.error().describe();
  const Verifier* tdx_verifier = nullptr;
  for (const auto& verifier : *verifiers) {
    if (verifier->handles(AttestationType::DcapTdx)) {
      tdx_verifier = verifier.get();
    }
  }
  ASSERT_NE(tdx_verifier, nullptr);

  const SystemTime now = SystemClock().now();
  for (const auto type :
       {AttestationType::DcapTdx, AttestationType::GcpTdx, AttestationType::QemuTdx}) {
    auto attester = make_mock_attester(dir.path(), type);
    ASSERT_TRUE(attester) << attester.error().describe();
    EXPECT_EQ((*attester)->type(), type);
    auto quote = (*attester)->generate(report_data(5));
    ASSERT_TRUE(quote);
    auto claims = tdx_verifier->verify(type, *quote, report_data(5), now);
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->tcb_status, "UpToDate");
    EXPECT_EQ(claims->measurements.at(0), Bytes(48, 0));
  }
  auto azure = make_mock_attester(dir.path(), AttestationType::AzureTdx);
  ASSERT_FALSE(azure);
  EXPECT_EQ(error_id(azure.error().code), "attest.generation_unavailable");

  // Measurements are read when an attester is created: a test may change them between runs.
  std::ofstream(fs::path(dir.path()) / "tdx-measurements.json")
      << "{\"mrtd\":\"" << std::string(96, '1') << "\",\"rtmr2\":\"" << std::string(96, '2')
      << "\"}";
  auto attester = make_mock_attester(dir.path(), AttestationType::DcapTdx).value();
  auto claims = tdx_verifier->verify(
      AttestationType::DcapTdx, attester->generate(report_data(5)).value(), report_data(5), now);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->measurements.at(0), Bytes(48, 0x11));
  EXPECT_EQ(claims->measurements.at(3), Bytes(48, 0x22));
  EXPECT_EQ(claims->measurements.at(4), Bytes(48, 0x00));

  std::ofstream(fs::path(dir.path()) / "tdx-measurements.json") << "{\"rtmr9\":\"00\"}";
  auto broken = make_mock_attester(dir.path(), AttestationType::DcapTdx);
  ASSERT_FALSE(broken);
  EXPECT_EQ(error_id(broken.error().code), "tdx_mock.invalid_options");
  EXPECT_NE(broken.error().detail.find("tdx-measurements.json"), std::string::npos);
}

}  // namespace
}  // namespace atls::attest::mock
