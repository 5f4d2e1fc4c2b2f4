// Mock TDX: quotes minted under a run-time PKI verify end to end with the REAL verifier when it
// trusts the mock root, and fail with the named error of every check they are made to break.
#include "attest/mock/tdx_mock.h"

#include <gtest/gtest.h>

#include <thread>

#include "attest/tdx/errors.h"
#include "attest/tdx/tdx_verifier.h"
#include "support/testdata.h"

namespace atls::attest::mock {
namespace {

using tdx::TcbStatus;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

ReportData report_data(std::uint8_t seed) {
  ReportData out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(seed + i);
  }
  return out;
}

tdx::Measurement filled(std::uint8_t value) {
  tdx::Measurement out{};
  out.fill(value);
  return out;
}

MockTdxPkiPtr make_pki(MockTdxPkiOptions options = {}) {
  auto pki = MockTdxPki::create(kNow, std::move(options));
  EXPECT_TRUE(pki) << (pki ? "" : pki.error().describe());
  return pki ? *pki : nullptr;
}

std::shared_ptr<MockTdxAttester> make_attester(const MockTdxPkiPtr& pki,
                                               MockTdxQuoteOptions options = {},
                                               AttestationType type = AttestationType::DcapTdx) {
  auto attester = MockTdxAttester::create(pki, options, type);
  EXPECT_TRUE(attester) << (attester ? "" : attester.error().describe());
  return attester ? *attester : nullptr;
}

Bytes mint(const MockTdxAttester& attester, const ReportData& data) {
  auto quote = attester.generate(data);
  EXPECT_TRUE(quote) << (quote ? "" : describe(quote.error()));
  return quote ? *quote : Bytes{};
}

/// Verifies a quote minted with `quote_options` under a PKI made with `pki_options`.
Outcome<tdx::TdxVerification> mint_and_verify(MockTdxPkiOptions pki_options,
                                              MockTdxQuoteOptions quote_options = {},
                                              SystemTime now = kNow) {
  const auto pki = make_pki(std::move(pki_options));
  if (!pki) {
    return Failure{};
  }
  const auto attester = make_attester(pki, quote_options);
  if (!attester) {
    return Failure{};
  }
  const auto data = report_data(7);
  return pki->make_verifier()->verify_detailed(AttestationType::DcapTdx, mint(*attester, data),
                                               data, now);
}

std::string error_of(const Outcome<tdx::TdxVerification>& result) {
  return result ? std::string("ok") : error_id(result.error().code);
}

TEST(TdxMock, MintedQuoteVerifiesWithTheRealVerifier) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  MockTdxQuoteOptions options;
  options.mr_td = filled(0x10);
  for (unsigned i = 0; i < 4; ++i) {
    options.rtmr[i] = filled(static_cast<std::uint8_t>(0x50 + 0x10 * i));
  }
  const auto attester = make_attester(pki, options);
  ASSERT_TRUE(attester);
  const auto verifier = pki->make_verifier();
  for (const int seed : {1, 2, 3}) {
    const auto data = report_data(static_cast<std::uint8_t>(seed));
    const auto claims =
        verifier->verify(AttestationType::DcapTdx, mint(*attester, data), data, kNow);
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->type, AttestationType::DcapTdx);
    EXPECT_EQ(claims->report_data, data);
    EXPECT_EQ(claims->tcb_status, "UpToDate");
    EXPECT_TRUE(claims->advisory_ids.empty());
    ASSERT_EQ(claims->measurements.size(), 5U);
    EXPECT_EQ(claims->measurements.at(0), Bytes(48, 0x10));
    EXPECT_EQ(claims->measurements.at(1), Bytes(48, 0x50));
    EXPECT_EQ(claims->measurements.at(4), Bytes(48, 0x80));
    ASSERT_TRUE(claims->tdx);
    EXPECT_EQ(claims->tdx->fmspc, pki->options().fmspc);
    EXPECT_EQ(claims->tdx->pck_ca, "platform");
    EXPECT_EQ(claims->tdx->pce_svn, 13);
    EXPECT_EQ(claims->tdx->qe_isv_svn, 8);
    EXPECT_EQ(claims->tdx->tdx_module_tcb_status, "UpToDate");
    EXPECT_EQ(claims->tdx->td_attributes, 0x10000000U);
  }
}

TEST(TdxMock, V5TdReport15AndPaddingAndProcessorCa) {
  MockTdxPkiOptions pki_options;
  pki_options.ca_type = tdx::PckCaType::Processor;
  MockTdxQuoteOptions options;
  options.version = 5;
  options.body_type = tdx::kBodyTypeTdReport15;
  options.padding = 3065;
  const auto result = mint_and_verify(pki_options, options);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->claims.quote_version, 5);
  EXPECT_EQ(result->claims.body_type, 3);
  EXPECT_EQ(result->claims.pck_ca, "processor");
  options.body_type = tdx::kBodyTypeTdReport10;
  EXPECT_EQ(error_of(mint_and_verify({}, options)), "ok");
}

TEST(TdxMock, GcpAndQemuTypesShareTheVerifier) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const auto verifier = pki->make_verifier();
  for (const auto type : {AttestationType::GcpTdx, AttestationType::QemuTdx}) {
    const auto attester = make_attester(pki, {}, type);
    ASSERT_TRUE(attester);
    EXPECT_EQ(attester->type(), type);
    const auto data = report_data(9);
    const auto claims = verifier->verify(type, mint(*attester, data), data, kNow);
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->type, type);
  }
  EXPECT_FALSE(verifier->handles(AttestationType::AzureTdx));
  EXPECT_FALSE(verifier->handles(AttestationType::None));
  const auto data = report_data(9);
  const auto azure = verifier->verify(AttestationType::AzureTdx, Bytes{}, data, kNow);
  ASSERT_FALSE(azure);
  EXPECT_EQ(error_id(azure.error()), "tdx.unsupported_attestation_type");
}

TEST(TdxMock, TamperedQuotesFail) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const auto attester = make_attester(pki);
  ASSERT_TRUE(attester);
  const auto verifier = pki->make_verifier();
  const auto data = report_data(4);
  const Bytes quote = mint(*attester, data);
  // 636 = first byte of the quote signature of a v4 quote (flashbots'
  // tampered_quote_signature_fails_verification); 200 = MRTD; 600 = REPORTDATA.
  for (const std::size_t offset : {std::size_t{636}, std::size_t{200}, std::size_t{600}}) {
    Bytes tampered = quote;
    tampered[offset] ^= 0x01;
    const auto result = verifier->verify(AttestationType::DcapTdx, tampered, data, kNow);
    ASSERT_FALSE(result) << offset;
    EXPECT_EQ(error_id(result.error()), "tdx.quote_signature_invalid") << offset;
  }
  Bytes tampered = quote;
  tampered[800] ^= 0x01;  // inside the QE report
  const auto result = verifier->verify(AttestationType::DcapTdx, tampered, data, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error()), "tdx.qe_report_signature_invalid");
  auto other = data;
  other[63] ^= 0x01;
  const auto mismatch = verifier->verify(AttestationType::DcapTdx, quote, other, kNow);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(error_id(mismatch.error()), "tdx.report_data_mismatch");
}

TEST(TdxMock, ProductionVerifierRejectsMockQuotes) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const auto attester = make_attester(pki);
  ASSERT_TRUE(attester);
  const auto data = report_data(5);
  const Bytes quote = mint(*attester, data);
  // Same collateral, default options: only the pinned Intel root is trusted.
  const tdx::TdxVerifier production(pki->collateral_source());
  const auto result = production.verify_detailed(AttestationType::DcapTdx, quote, data, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error().code), "tdx.root_not_trusted") << result.error().describe();
  // Without collateral for the mock FMSPC the untrusted chain is still what is reported: it is
  // rejected before the collateral lookup (a fetching source never fetches for such a quote).
  const tdx::TdxVerifier empty(std::make_shared<tdx::StaticCollateralSource>());
  const auto unavailable = empty.verify(AttestationType::DcapTdx, quote, data, kNow);
  ASSERT_FALSE(unavailable);
  EXPECT_EQ(error_id(unavailable.error()), "tdx.root_not_trusted");
}

TEST(TdxMock, MockVerifierRejectsRealQuotes) {
  ATLS_REQUIRE_TESTDATA();
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const std::string text = atls::testing::read_text(atls::testing::testdata_path(
      "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json"));
  auto documents = tdx::collateral_from_json(text);
  ASSERT_TRUE(documents);
  auto collateral = tdx::Collateral::parse(std::move(*documents));
  ASSERT_TRUE(collateral);
  auto source = std::make_shared<tdx::StaticCollateralSource>();
  ASSERT_TRUE(source->add(*collateral));
  tdx::TdxVerifierOptions options;
  options.trust_anchors = pki->trust_anchors();
  const tdx::TdxVerifier mock_only(source, options);
  const Bytes quote = atls::testing::read_bytes(atls::testing::testdata_path(
      "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607"));
  ReportData data{};
  std::copy(quote.begin() + 568, quote.begin() + 632, data.begin());
  const auto result = mock_only.verify(AttestationType::DcapTdx, quote, data,
                                       SystemTime(std::chrono::seconds(1769509141)));
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error()), "tdx.root_not_trusted");
}

TEST(TdxMock, ExportedPkiVerifiesInAnotherVerifier) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const auto attester = make_attester(pki);
  ASSERT_TRUE(attester);
  const auto directory =
      std::filesystem::temp_directory_path() /
      ("atls-tdx-mock-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(reinterpret_cast<std::uintptr_t>(pki.get())));
  ASSERT_TRUE(pki->export_to(directory));
  EXPECT_TRUE(std::filesystem::exists(directory / "mock-root-ca.pem"));
  EXPECT_TRUE(std::filesystem::exists(directory / "mock-collateral.json"));
  const auto imported = load_exported_mock_tdx(directory);
  std::filesystem::remove_all(directory);
  ASSERT_TRUE(imported) << imported.error().describe();
  const auto data = report_data(6);
  const auto claims =
      imported->verifier->verify(AttestationType::DcapTdx, mint(*attester, data), data, kNow);
  ASSERT_TRUE(claims) << describe(claims.error());
  EXPECT_EQ(claims->tcb_status, "UpToDate");
  EXPECT_FALSE(load_exported_mock_tdx(directory / "missing"));
}

TEST(TdxMock, CollateralFreshnessIsChecked) {
  const auto day = std::chrono::hours(24);
  EXPECT_EQ(error_of(mint_and_verify({}, {}, kNow + 29 * day)), "ok");
  EXPECT_EQ(error_of(mint_and_verify({}, {}, kNow + 31 * day)), "tdx.pck_crl_expired");
  MockTdxPkiOptions long_crl;
  long_crl.crl_lifetime = 90 * day;
  EXPECT_EQ(error_of(mint_and_verify(long_crl, {}, kNow + 31 * day)), "tdx.tcb_info_expired");
  EXPECT_EQ(error_of(mint_and_verify({}, {}, kNow - std::chrono::hours(2))),
            "tdx.root_crl_not_yet_valid");
  MockTdxPkiOptions short_certs;
  short_certs.certificate_lifetime = 10 * day;
  EXPECT_EQ(error_of(mint_and_verify(short_certs, {}, kNow + 11 * day)),
            "tdx.collateral_cert_expired");
}

TEST(TdxMock, RevocationIsChecked) {
  MockTdxPkiOptions revoked_pck;
  revoked_pck.revoke_pck = true;
  EXPECT_EQ(error_of(mint_and_verify(revoked_pck)), "tdx.pck_revoked");
  MockTdxPkiOptions revoked_ca;
  revoked_ca.revoke_pck_ca = true;
  EXPECT_EQ(error_of(mint_and_verify(revoked_ca)), "tdx.pck_ca_revoked");
}

TEST(TdxMock, TdAttributeChecks) {
  MockTdxQuoteOptions debug;
  debug.td_attributes[0] = 0x01;
  EXPECT_EQ(error_of(mint_and_verify({}, debug)), "tdx.td_debug_enabled");
  MockTdxQuoteOptions reserved_tud;
  reserved_tud.td_attributes[0] = 0x02;
  EXPECT_EQ(error_of(mint_and_verify({}, reserved_tud)), "tdx.td_attributes_invalid");
  MockTdxQuoteOptions reserved_sec;
  reserved_sec.td_attributes[1] = 0x01;  // bit 8
  EXPECT_EQ(error_of(mint_and_verify({}, reserved_sec)), "tdx.td_attributes_invalid");
  MockTdxQuoteOptions reserved_other;
  reserved_other.td_attributes[4] = 0x01;  // bit 32
  EXPECT_EQ(error_of(mint_and_verify({}, reserved_other)), "tdx.td_attributes_invalid");
  MockTdxQuoteOptions no_sept;
  no_sept.td_attributes[3] = 0x00;
  EXPECT_EQ(error_of(mint_and_verify({}, no_sept)), "tdx.td_sept_ve_disable_missing");
  MockTdxQuoteOptions allowed;  // PKS (30), KL (31) and PERFMON (63) are allowed
  allowed.td_attributes = {0, 0, 0, 0xd0, 0, 0, 0, 0x80};
  EXPECT_EQ(error_of(mint_and_verify({}, allowed)), "ok");
  MockTdxQuoteOptions service_td;
  service_td.version = 5;
  service_td.body_type = tdx::kBodyTypeTdReport15;
  service_td.mr_servicetd[0] = 1;
  EXPECT_EQ(error_of(mint_and_verify({}, service_td)), "tdx.mr_servicetd_not_zero");
}

TEST(TdxMock, TdxModuleChecks) {
  MockTdxQuoteOptions signer;
  signer.mr_signer_seam[0] = 1;
  EXPECT_EQ(error_of(mint_and_verify({}, signer)), "tdx.tdx_module_mismatch");
  MockTdxQuoteOptions seam;
  seam.seam_attributes[0] = 1;
  EXPECT_EQ(error_of(mint_and_verify({}, seam)), "tdx.seam_attributes_invalid");
  MockTdxQuoteOptions unknown_major;
  unknown_major.tee_tcb_svn = {3, 2, 2};
  EXPECT_EQ(error_of(mint_and_verify({}, unknown_major)), "tdx.tdx_module_identity_not_found");
  MockTdxQuoteOptions old_module;
  old_module.tee_tcb_svn = {0, 1, 2};
  EXPECT_EQ(error_of(mint_and_verify({}, old_module)), "tdx.no_matching_tdx_module_level");
  // Module major version 0: bytes 0-1 compare with the TCB level, tdxModule identity applies.
  MockTdxQuoteOptions major0;
  major0.tee_tcb_svn = {0, 0, 2};
  const auto result = mint_and_verify({}, major0);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_FALSE(result->tcb.module_status);
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "");
}

TEST(TdxMock, StatusesConvergeAndCarryAdvisories) {
  // Module SVN 2 -> module level 1 (OutOfDate): UpToDate platform becomes OutOfDate.
  MockTdxQuoteOptions old_module;
  old_module.tee_tcb_svn = {2, 1, 2};
  auto result = mint_and_verify({}, old_module);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
  EXPECT_EQ(result->claims.platform_tcb_status, "UpToDate");
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "OutOfDate");
  EXPECT_EQ(result->tcb.advisory_ids, std::vector<std::string>{"ATLS-MOCK-SA-00002"});
  // TDX component 2 below the current level: the older (OutOfDate) level matches.
  MockTdxQuoteOptions old_tdx;
  old_tdx.tee_tcb_svn = {3, 1, 1};
  result = mint_and_verify({}, old_tdx);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
  EXPECT_EQ(result->claims.platform_tcb_status, "OutOfDate");
  EXPECT_EQ(result->tcb.advisory_ids, std::vector<std::string>{"ATLS-MOCK-SA-00001"});
  // QE SVN 5 -> QE level 4 (OutOfDate).
  MockTdxQuoteOptions old_qe;
  old_qe.qe_isv_svn = 5;
  result = mint_and_verify({}, old_qe);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
  EXPECT_EQ(result->claims.qe_tcb_status, "OutOfDate");
  EXPECT_EQ(result->tcb.advisory_ids, std::vector<std::string>{"ATLS-MOCK-SA-00003"});
  MockTdxQuoteOptions older_qe;
  older_qe.qe_isv_svn = 3;
  EXPECT_EQ(error_of(mint_and_verify({}, older_qe)), "tdx.qe_tcb_not_supported");
  // SW hardening is reported, not rejected.
  MockTdxPkiOptions hardening;
  tdx::TcbLevel level;
  level.sgx_components = hardening.sgx_tcb_components;
  level.pce_svn = hardening.pce_svn;
  level.tdx_components = {0, 0, 2};
  level.tcb_date = "2025-06-01T00:00:00Z";
  level.status = TcbStatus::SwHardeningNeeded;
  level.advisory_ids = {"INTEL-SA-00615"};
  hardening.tcb_levels = {level};
  result = mint_and_verify(hardening);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::SwHardeningNeeded);
  EXPECT_EQ(result->claims.tcb_date, "2025-06-01T00:00:00Z");
  EXPECT_EQ(result->tcb.advisory_ids, std::vector<std::string>{"INTEL-SA-00615"});
}

TEST(TdxMock, RevokedTcbIsRejected) {
  MockTdxPkiOptions revoked_level;
  tdx::TcbLevel level;
  level.sgx_components = revoked_level.sgx_tcb_components;
  level.pce_svn = revoked_level.pce_svn;
  level.tcb_date = "2025-06-01T00:00:00Z";
  level.status = TcbStatus::Revoked;
  revoked_level.tcb_levels = {level};
  EXPECT_EQ(error_of(mint_and_verify(revoked_level)), "tdx.tcb_revoked");
  MockTdxPkiOptions revoked_qe;
  revoked_qe.qe_tcb_levels = {{8, "2025-06-01T00:00:00Z", TcbStatus::Revoked, {}}};
  EXPECT_EQ(error_of(mint_and_verify(revoked_qe)), "tdx.tcb_revoked");
  MockTdxPkiOptions revoked_module;
  tdx::TdxModuleIdentity identity;
  identity.id = "TDX_01";
  identity.module.attributes_mask.fill(0xff);
  identity.tcb_levels = {{3, "2025-06-01T00:00:00Z", TcbStatus::Revoked, {}}};
  revoked_module.module_identities = {identity};
  EXPECT_EQ(error_of(mint_and_verify(revoked_module)), "tdx.tcb_revoked");
}

TEST(TdxMock, NoMatchingLevels) {
  MockTdxPkiOptions high;
  tdx::TcbLevel level;
  level.sgx_components = high.sgx_tcb_components;
  level.sgx_components[0] = 9;
  level.pce_svn = high.pce_svn;
  level.tcb_date = "2025-06-01T00:00:00Z";
  high.tcb_levels = {level};
  EXPECT_EQ(error_of(mint_and_verify(high)), "tdx.no_matching_tcb_level");
  MockTdxPkiOptions high_pce = high;
  high_pce.tcb_levels[0].sgx_components = high.sgx_tcb_components;
  high_pce.tcb_levels[0].pce_svn = 14;
  EXPECT_EQ(error_of(mint_and_verify(high_pce)), "tdx.no_matching_tcb_level");
  MockTdxPkiOptions high_tdx = high_pce;
  high_tdx.tcb_levels[0].pce_svn = 13;
  high_tdx.tcb_levels[0].tdx_components = {0, 0, 9};
  EXPECT_EQ(error_of(mint_and_verify(high_tdx)), "tdx.no_matching_tdx_tcb_level");
}

TEST(TdxMock, AzureOverrideClampsOnlyAzureFmspc) {
  // interop §5.2.1 on synthetic collateral: SGX component 8 = 3, every level requires 5.
  for (const bool azure : {true, false}) {
    SCOPED_TRACE(azure);
    MockTdxPkiOptions options;
    options.fmspc = azure ? tdx::kAzureOutdatedFmspc : tdx::Fmspc{0x00, 0xa0, 0x6e, 0x57, 0, 0};
    options.sgx_tcb_components = {3, 3, 2, 2, 4, 1, 0, 3};
    tdx::TcbLevel level;
    level.sgx_components = {3, 3, 2, 2, 4, 1, 0, 5};
    level.pce_svn = options.pce_svn;
    level.tdx_components = {0, 0, 2};
    level.tcb_date = "2025-06-01T00:00:00Z";
    options.tcb_levels = {level};
    const auto pki = make_pki(options);
    ASSERT_TRUE(pki);
    const auto attester = make_attester(pki);
    ASSERT_TRUE(attester);
    const auto data = report_data(1);
    const Bytes quote = mint(*attester, data);
    const tdx::QuoteVerifier verifier(pki->trust_anchors());
    auto result = verifier.verify(quote, *pki->collateral(), kNow, data);
    EXPECT_EQ(error_of(result), "tdx.no_matching_tcb_level");
    tdx::VerifyOptions override_on;
    override_on.azure_outdated_tcb_override = true;
    result = verifier.verify(quote, *pki->collateral(), kNow, data, override_on);
    EXPECT_EQ(error_of(result), azure ? "ok" : "tdx.no_matching_tcb_level");
    if (result) {
      EXPECT_TRUE(result->claims.azure_outdated_tcb_override_applied);
      EXPECT_EQ(result->status, TcbStatus::UpToDate);
    }
  }
}

TEST(TdxMock, TdRelaunchAdvised) {
  // verification.md §1.4 step 5: TD 1.5, TDX level and module OutOfDate, TEE_TCB_SVN2 reaches
  // the newest level.
  MockTdxPkiOptions options;
  tdx::TcbLevel latest;
  latest.sgx_components = options.sgx_tcb_components;
  latest.pce_svn = options.pce_svn;
  latest.tdx_components = {0, 0, 3};
  latest.tcb_date = "2025-06-01T00:00:00Z";
  tdx::TcbLevel older = latest;
  older.tdx_components = {0, 0, 2};
  older.status = TcbStatus::OutOfDate;
  older.tcb_date = "2024-06-01T00:00:00Z";
  options.tcb_levels = {latest, older};
  MockTdxQuoteOptions quote;
  quote.version = 5;
  quote.body_type = tdx::kBodyTypeTdReport15;
  quote.tee_tcb_svn = {1, 1, 2};
  quote.tee_tcb_svn2 = {3, 1, 3};
  auto result = mint_and_verify(options, quote);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::TdRelaunchAdvised);
  quote.tee_tcb_svn2 = {3, 1, 2};  // a relaunch would not reach the newest level
  result = mint_and_verify(options, quote);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
  quote.body_type = tdx::kBodyTypeTdReport10;  // TD 1.0: no relaunch logic
  quote.tee_tcb_svn2 = {};
  result = mint_and_verify(options, quote);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
}

TEST(TdxMock, QeIdentityMismatches) {
  MockTdxPkiOptions signer;
  signer.qe_identity_mr_signer = std::array<std::uint8_t, 32>{1};
  EXPECT_EQ(error_of(mint_and_verify(signer)), "tdx.qe_mrsigner_mismatch");
  MockTdxPkiOptions product;
  product.qe_identity_isv_prod_id = 1;
  EXPECT_EQ(error_of(mint_and_verify(product)), "tdx.qe_isvprodid_mismatch");
  MockTdxQuoteOptions misc;
  misc.qe_misc_select = 1;
  EXPECT_EQ(error_of(mint_and_verify({}, misc)), "tdx.qe_miscselect_mismatch");
  MockTdxQuoteOptions debug_qe;
  debug_qe.qe_attributes0 = 0x17;  // DEBUG
  EXPECT_EQ(error_of(mint_and_verify({}, debug_qe)), "tdx.qe_attributes_mismatch");
  // An identity that demands DEBUG still cannot admit a debug QE.
  MockTdxPkiOptions lax;
  lax.qe_identity_attributes = "13000000000000000000000000000000";
  EXPECT_EQ(error_of(mint_and_verify(lax, debug_qe)), "tdx.qe_debug_enabled");
}

TEST(TdxMock, CollateralIdentityChecks) {
  MockTdxPkiOptions sgx_tcb;
  sgx_tcb.tcb_info_id = "SGX";
  EXPECT_EQ(error_of(mint_and_verify(sgx_tcb)), "tdx.tcb_info_not_tdx");
  MockTdxPkiOptions sgx_qe;
  sgx_qe.qe_identity_id = "QE";
  EXPECT_EQ(error_of(mint_and_verify(sgx_qe)), "tdx.qe_identity_not_td_qe");
}

TEST(TdxMock, ConcurrentVerification) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  const auto attester = make_attester(pki);
  ASSERT_TRUE(attester);
  const auto verifier = pki->make_verifier();
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const auto data = report_data(static_cast<std::uint8_t>(t * 20 + i));
        const auto quote = attester->generate(data);
        if (quote && verifier->verify(AttestationType::DcapTdx, *quote, data, kNow)) {
          ++verified;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(verified.load(), 80);
}

TEST(TdxMock, InvalidQuoteShapeIsRefused) {
  const auto pki = make_pki();
  ASSERT_TRUE(pki);
  MockTdxQuoteOptions options;
  options.body_type = tdx::kBodyTypeTdReport15;  // v4 cannot carry TD 1.5
  const auto attester = MockTdxAttester::create(pki, options);
  ASSERT_FALSE(attester);
  EXPECT_EQ(error_id(attester.error().code), "tdx_mock.invalid_options");
}

}  // namespace
}  // namespace atls::attest::mock
