// Every TDX vector of testdata/VECTORS.md §1 and flashbots/CATALOG.md, verified with the
// production-pinned verifier at its documented time, with its documented outcome.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "attest/tdx/tdx_verifier.h"
#include "tdx_test_util.h"

namespace atls::attest::tdx {
namespace {

using testing::at;
using testing::at_unix;
using testing::id_of;
using testing::load_collateral;
using testing::load_documents;
using testing::load_quote;
using testing::parse_collateral;
using testing::production_verifier;
using testing::report_data_of;

constexpr const char* kFlashbots = "flashbots/attestation-test-assets/";
constexpr const char* kPinned = "flashbots/attestation-test-assets-pinned-4ebc037/";

std::string hex48(const Measurements& m, unsigned index) {
  const auto it = m.find(index);
  return it == m.end() ? std::string() : to_hex(it->second);
}

/// Verifies and returns the outcome; failures are reported by the caller's assertions.
Outcome<TdxVerification> verify(const std::string& quote_path, const CollateralPtr& collateral,
                                SystemTime now, const VerifyOptions& options = {}) {
  const Bytes quote = load_quote(quote_path);
  return production_verifier().verify(quote, *collateral, now, report_data_of(quote), options);
}

void expect_error(const Outcome<TdxVerification>& result, const char* id) {
  ASSERT_FALSE(result) << "expected " << id;
  EXPECT_EQ(testing::id_of(result.error()), id) << result.error().describe();
}

TEST(TdxVectors, FlashbotsDcapQuoteVerifiesAtPinnedTime) {
  // CATALOG dcap-tdx-1766059550570652607 / test_dcap_verify; interop §9.3.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  const auto result = verify(std::string(kFlashbots) + "dcap-tdx-1766059550570652607", collateral,
                             at_unix(1769509141));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
  EXPECT_EQ(hex48(result->measurements, 0),
            "a5844e88897b70c318bef929ef4dfd6c7304c52c4bc9c3f39132f0fdccecf3eb5bab70110ee42a12509a31"
            "c037288694");
  EXPECT_EQ(hex48(result->measurements, 1),
            "0564ec85d8d7cbaebde0f6cce94f3b15722c656b610426abbfde11a5e14e9a9ee07c752df120b85267bb6c"
            "6c743a9301");
  EXPECT_EQ(hex48(result->measurements, 2),
            "d6b50192d3c4a98ac0a58e12b1e547edd02d79697c1fb9faa2f6fd0b150553b23f399e6d63612699b20846"
            "8da7b748f3");
  EXPECT_EQ(hex48(result->measurements, 3),
            "b26c7be2db28613938cd75fd4173b963130712acb710f2820f9f0519e93f781dbabd7ba945870f499826d0"
            "ed169c5b42");
  EXPECT_EQ(hex48(result->measurements, 4), std::string(96, '0'));
  EXPECT_EQ(to_hex(result->report_data),
            "74276a648f1fd491f474a2d52c72d850e3768157b43ec297a9917482bd77278ba1882588391d1956b6f646"
            "6ad8b8dccd55f57221ad81b420f746fa8db0f8637d");
  EXPECT_EQ(to_hex(result->claims.fmspc), "00806f050000");
  EXPECT_EQ(result->claims.pck_ca, "platform");
  EXPECT_EQ(result->claims.pce_svn, 11);
  EXPECT_EQ(result->claims.qe_isv_svn, 6);
  EXPECT_EQ(result->claims.qe_tcb_status, "UpToDate");
  EXPECT_EQ(result->claims.platform_tcb_status, "UpToDate");
  EXPECT_TRUE(result->tcb.advisory_ids.empty());
}

TEST(TdxVectors, FlashbotsDcapQuoteAfterTcbInfoNextUpdateIsExpired) {
  // CATALOG test matrix: now = 1772096506 (after TCB info nextUpdate).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  expect_error(verify(std::string(kFlashbots) + "dcap-tdx-1766059550570652607", collateral,
                      at_unix(1772096506)),
               "tdx.tcb_info_expired");
}

TEST(TdxVectors, FlashbotsDcapQuoteYamlCollateralGivesTheSameResult) {
  ATLS_REQUIRE_TESTDATA();
  const auto collateral =
      load_collateral(std::string(kFlashbots) + "dcap-quote-collateral-00.yaml");
  ASSERT_TRUE(collateral);
  const auto json = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(json);
  // Same signed bytes (only PEM trailing newlines differ), so the same TCB info.
  EXPECT_EQ(collateral->documents().tcb_info, json->documents().tcb_info);
  const auto result = verify(std::string(kFlashbots) + "dcap-tdx-1766059550570652607", collateral,
                             at_unix(1769509141));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
}

TEST(TdxVectors, FlashbotsDcapQuoteOutsideItsWindowFailsWithTheExpiringDocument) {
  // CATALOG: window 1769507399 .. 1772096505; each boundary names the document that bounds it.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  const std::string quote = std::string(kFlashbots) + "dcap-tdx-1766059550570652607";
  EXPECT_TRUE(verify(quote, collateral, at_unix(1769507399)));
  EXPECT_TRUE(verify(quote, collateral, at_unix(1772096505)));
  expect_error(verify(quote, collateral, at_unix(1769507398)), "tdx.qe_identity_not_yet_valid");
  // The PCK CRL (thisUpdate 09:46:32) is checked before the TCB info (issueDate 09:01:45).
  expect_error(verify(quote, collateral, at("2026-01-27T09:47:00Z")),
               "tdx.qe_identity_not_yet_valid");
  expect_error(verify(quote, collateral, at("2026-01-27T09:30:00Z")), "tdx.pck_crl_not_yet_valid");
  expect_error(verify(quote, collateral, at("2026-02-26T09:30:00Z")), "tdx.tcb_info_expired");
  expect_error(verify(quote, collateral, at("2026-02-26T09:47:00Z")), "tdx.pck_crl_expired");
  expect_error(verify(quote, collateral, at("2026-04-03T11:22:00Z")), "tdx.root_crl_expired");
  expect_error(verify(quote, collateral, at("2025-01-01T00:00:00Z")), "tdx.root_crl_not_yet_valid");
}

TEST(TdxVectors, FlashbotsDcapQuoteWithOtherReportDataIsAMismatch) {
  // CATALOG: changing any REPORTDATA byte of the expected input -> InputMismatch.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  const Bytes quote = load_quote(std::string(kFlashbots) + "dcap-tdx-1766059550570652607");
  for (const std::size_t byte :
       {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
    ReportData expected = report_data_of(quote);
    expected[byte] ^= 0x01;
    const auto result =
        production_verifier().verify(quote, *collateral, at_unix(1769509141), expected);
    expect_error(result, "tdx.report_data_mismatch");
  }
}

TEST(TdxVectors, DcapQvlTdxQuoteIsUpToDate) {
  // VECTORS.md dcap-qvl/tdx_quote: window 2025-06-19T10:32:27Z .. 2025-07-19T10:00:35Z.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral("dcap-qvl/tdx_quote_collateral.json");
  ASSERT_TRUE(collateral);
  const auto result = verify("dcap-qvl/tdx_quote", collateral, at("2025-07-01T00:00:00Z"));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "UpToDate");
  EXPECT_EQ(result->tcb.module_id, "TDX_01");
  EXPECT_EQ(result->claims.qe_tcb_status, "UpToDate");
  EXPECT_TRUE(result->tcb.advisory_ids.empty());
  EXPECT_EQ(to_hex(result->claims.fmspc), "b0c06f000000");
  EXPECT_EQ(result->claims.pce_svn, 11);
  EXPECT_EQ(result->claims.qe_isv_svn, 6);
  EXPECT_EQ(hex48(result->measurements, 0).substr(0, 16), "91eb2b44d141d4ec");
  EXPECT_EQ(to_hex(result->report_data).substr(0, 8), "9a9d48e7");
  EXPECT_EQ(result->claims.tcb_evaluation_data_number, 17U);
  expect_error(verify("dcap-qvl/tdx_quote", collateral, at("2025-07-19T10:00:36Z")),
               "tdx.pck_crl_expired");
}

TEST(TdxVectors, DcapQvlOutdatedAzureQuoteNeedsTheOverride) {
  // VECTORS.md dcap-qvl/tdx_quote_outdated: v5 / TD 1.5, SGX component 8 = 3 < 5.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral("dcap-qvl/tdx_quote_outdated_collateral.json");
  ASSERT_TRUE(collateral);
  const auto now = at("2026-03-01T00:00:00Z");
  expect_error(verify("dcap-qvl/tdx_quote_outdated", collateral, now), "tdx.no_matching_tcb_level");
  VerifyOptions options;
  options.azure_outdated_tcb_override = true;
  const auto result = verify("dcap-qvl/tdx_quote_outdated", collateral, now, options);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "UpToDate");
  EXPECT_TRUE(result->claims.azure_outdated_tcb_override_applied);
  EXPECT_EQ(result->claims.quote_version, 5);
  EXPECT_EQ(result->claims.body_type, 3);
  EXPECT_EQ(to_hex(result->claims.tee_tcb_svn2).substr(0, 6), "0d0103");
}

TEST(TdxVectors, TappdQuotesMatchNoTcbLevel) {
  // VECTORS.md dcap-qvl/tdx-quote.hex and quote-from-tappd.hex with tdx_quote_collateral.json.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral("dcap-qvl/tdx_quote_collateral.json");
  ASSERT_TRUE(collateral);
  for (const char* quote : {"dcap-qvl/tdx-quote.hex", "dcap-qvl/quote-from-tappd.hex"}) {
    SCOPED_TRACE(quote);
    expect_error(verify(quote, collateral, at("2025-07-01T00:00:00Z")),
                 "tdx.no_matching_tcb_level");
  }
}

TEST(TdxVectors, SgxQuotesAreNamedAsUnsupported) {
  ATLS_REQUIRE_TESTDATA();
  for (const char* path :
       {"dcap-qvl/sgx_quote", "trustee/occlum_quote.dat", "intel-qvl/quote.dat"}) {
    SCOPED_TRACE(path);
    const auto prepared = production_verifier().prepare(load_quote(path));
    ASSERT_FALSE(prepared);
    EXPECT_EQ(id_of(prepared.error()), "tdx.sgx_quote_not_supported");
  }
}

TEST(TdxVectors, AzureQuoteVerifiesOnlyWithTheOverride) {
  // CATALOG azure_failed_dcap_quote_10.bin / test_dcap_verify_azure_override.
  ATLS_REQUIRE_TESTDATA();
  const std::string quote = std::string(kFlashbots) + "azure_failed_dcap_quote_10.bin";
  for (const char* name : {"attestation-test-assets/azure-collateral.yaml",
                           "attestation-test-assets-pinned-4ebc037/azure-collateral.json"}) {
    SCOPED_TRACE(name);
    const auto collateral = load_collateral(std::string("flashbots/") + name);
    ASSERT_TRUE(collateral);
    expect_error(verify(quote, collateral, at_unix(1771414156)), "tdx.no_matching_tcb_level");
    VerifyOptions options;
    options.azure_outdated_tcb_override = true;
    const auto result = verify(quote, collateral, at_unix(1771414156), options);
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->status, TcbStatus::UpToDate);
    EXPECT_EQ(hex48(result->measurements, 0).substr(0, 16), "273828c46252fcbd");
    EXPECT_EQ(
        to_hex(result->report_data),
        "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728" + std::string(64, '0'));
    EXPECT_EQ(to_hex(result->claims.fmspc), "90c06f000000");
  }
  // azure-collateral02: window 1771423135 .. 1774014080.
  const auto collateral02 = load_collateral(std::string(kFlashbots) + "azure-collateral02.yaml");
  ASSERT_TRUE(collateral02);
  VerifyOptions options;
  options.azure_outdated_tcb_override = true;
  EXPECT_TRUE(verify(quote, collateral02, at_unix(1771423480), options));
  expect_error(verify(quote, collateral02, at_unix(1771423134), options),
               "tdx.tcb_info_not_yet_valid");
}

TEST(TdxVectors, GcpQuoteIsUpToDateWithItsCollateral) {
  // CATALOG gcp-tdx-1782809233226668671 (derived: UpToDate).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral =
      load_collateral(std::string(kFlashbots) + "gcp-tdx-collateral-1782809233226668671.yaml");
  ASSERT_TRUE(collateral);
  const std::string quote = std::string(kFlashbots) + "gcp-tdx-1782809233226668671";
  const auto result = verify(quote, collateral, at_unix(1782809233));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
  EXPECT_EQ(
      hex48(result->measurements, 0),
      "9bf86e6280ec4282b8b5822d8166410a456cdb720109aa799f0011fa63df1de3ee5e35e293fc410c0614331"
      "63acb03a6");
  EXPECT_EQ(
      hex48(result->measurements, 1),
      "8d2d6ad6e569271bace0ad7deab00245b6a951745c53dfe4590add762b55b9c91033ef9dc6153aaf7fb2d2f"
      "b1e4b952b");
  EXPECT_EQ(
      hex48(result->measurements, 2),
      "c89d429d47bf02018b2638504926ff17072db1fbf1c60b1c7b13908e8a3792b3d0e10e407fe93692022144c"
      "d1d6e51ad");
  EXPECT_EQ(
      hex48(result->measurements, 3),
      "9caa04c96af83d3c412d45d644e4570ed2530381d8d565452e0cfd2d7b09dfcbef49738f80e3070e23f150b"
      "e4be5b942");
  EXPECT_EQ(hex48(result->measurements, 4), std::string(96, '0'));
  EXPECT_EQ(result->report_data, ReportData{});
  // The same quote with collateral-00 (window ends 2026-02-26): the PCK leaf is not yet valid.
  const auto old = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(old);
  expect_error(verify(quote, old, at_unix(1769509141)), "tdx.pck_cert_not_yet_valid");
}

// go-tdx-guest ships raw PCS bodies without their issuer-chain headers. The Intel SGX TCB
// Signing key is unchanged, so the chain of any dcap-qvl/flashbots collateral verifies their
// signatures (VECTORS.md go-tdx-guest note). These helpers swap single documents into a base
// collateral.
CollateralDocuments with_tcb_info_body(CollateralDocuments base, const std::string& body_path) {
  auto signed_json = split_signed_json(
      atls::testing::read_text(atls::testing::testdata_path(body_path)), "tcbInfo");
  EXPECT_TRUE(signed_json) << (signed_json ? "" : signed_json.error().describe());
  if (signed_json) {
    base.tcb_info = signed_json->text;
    base.tcb_info_signature = signed_json->signature;
  }
  return base;
}

CollateralDocuments with_qe_identity_body(CollateralDocuments base, const std::string& body_path) {
  auto signed_json = split_signed_json(
      atls::testing::read_text(atls::testing::testdata_path(body_path)), "enclaveIdentity");
  EXPECT_TRUE(signed_json) << (signed_json ? "" : signed_json.error().describe());
  if (signed_json) {
    base.qe_identity = signed_json->text;
    base.qe_identity_signature = signed_json->signature;
  }
  return base;
}

/// All go-tdx-guest documents (2023) with the TCB signing chain of collateral-00.
CollateralDocuments go_tdx_guest_2023_documents() {
  PcsResponses pcs;
  const auto base = load_documents(std::string(kPinned) + "dcap-quote-collateral-00.json");
  pcs.tcb_info_body = atls::testing::read_text(
      atls::testing::testdata_path("go-tdx-guest/sample_tcbInfo_response"));
  pcs.tcb_info_issuer_chain = base.tcb_info_issuer_chain;
  pcs.qe_identity_body = atls::testing::read_text(
      atls::testing::testdata_path("go-tdx-guest/sample_qeIdentity_response"));
  pcs.qe_identity_issuer_chain = base.qe_identity_issuer_chain;
  pcs.pck_crl = atls::testing::read_bytes(atls::testing::testdata_path("go-tdx-guest/pckcrl"));
  pcs.pck_crl_issuer_chain = base.pck_crl_issuer_chain;
  pcs.root_ca_crl =
      atls::testing::read_bytes(atls::testing::testdata_path("go-tdx-guest/rootcrl.der"));
  auto documents = collateral_from_pcs(pcs);
  EXPECT_TRUE(documents) << (documents ? "" : documents.error().describe());
  return documents ? std::move(*documents) : CollateralDocuments{};
}

TEST(TdxVectors, GoTdxGuestV5SampleIsUpToDateWithFreshQeIdentity) {
  // VECTORS.md go-tdx-guest/quote_v5_sample.dat + sample_tcbinfo_response_v5 at 2026-02-03;
  // QE identity and CRLs from collateral-00 (fresh then).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = parse_collateral(
      with_tcb_info_body(load_documents(std::string(kPinned) + "dcap-quote-collateral-00.json"),
                         "go-tdx-guest/sample_tcbinfo_response_v5"));
  ASSERT_TRUE(collateral);
  const auto result =
      verify("go-tdx-guest/quote_v5_sample.dat", collateral, at("2026-02-03T00:00:00Z"));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::UpToDate);
  EXPECT_EQ(result->tcb.module_id, "TDX_01");
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "UpToDate");
  EXPECT_EQ(result->claims.qe_tcb_status, "UpToDate");
  EXPECT_EQ(hex48(result->measurements, 0).substr(0, 16), "7348651a34b2d2d3");
  EXPECT_EQ(result->claims.quote_version, 5);
  EXPECT_EQ(result->claims.body_type, 3);
}

TEST(TdxVectors, GoTdxGuestV5SampleWithItsOwnStaleCollateralFails) {
  // The QE identity (2023-06-08 .. 2023-07-08) and CRLs bundled with go-tdx-guest are stale
  // at the v5 sample's time: each stale document gives its own error.
  ATLS_REQUIRE_TESTDATA();
  const auto now = at("2026-02-03T00:00:00Z");
  const auto fresh =
      with_tcb_info_body(load_documents(std::string(kPinned) + "dcap-quote-collateral-00.json"),
                         "go-tdx-guest/sample_tcbinfo_response_v5");
  const std::string quote = "go-tdx-guest/quote_v5_sample.dat";
  expect_error(verify(quote,
                      parse_collateral(
                          with_qe_identity_body(fresh, "go-tdx-guest/sample_qeIdentity_response")),
                      now),
               "tdx.qe_identity_expired");
  auto stale_pck_crl = fresh;
  stale_pck_crl.pck_crl =
      atls::testing::read_bytes(atls::testing::testdata_path("go-tdx-guest/pckcrl"));
  expect_error(verify(quote, parse_collateral(stale_pck_crl), now), "tdx.pck_crl_expired");
  auto stale_root_crl = fresh;
  stale_root_crl.root_ca_crl =
      atls::testing::read_bytes(atls::testing::testdata_path("go-tdx-guest/rootcrl.der"));
  expect_error(verify(quote, parse_collateral(stale_root_crl), now), "tdx.root_crl_expired");
}

TEST(TdxVectors, GoTdxGuest2023CollateralFailsOnTheRenewedTcbSigningCertificate) {
  // At go-tdx-guest's test time (2023-07-01) every 2023 document is fresh, but the only TCB
  // signing certificate at hand is the 2025-05-06 renewal (same key): strict X.509 validity
  // at `now` rejects it (VECTORS.md note).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = parse_collateral(go_tdx_guest_2023_documents());
  ASSERT_TRUE(collateral);
  for (const char* quote : {"go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "trustee/tdx_quote_4.dat"}) {
    SCOPED_TRACE(quote);
    expect_error(verify(quote, collateral, at("2023-07-01T00:00:00Z")),
                 "tdx.collateral_cert_not_yet_valid");
  }
}

/// Quote checks up to the FMSPC comparison all pass when a quote is verified against valid
/// collateral of another platform: tdx.fmspc_mismatch proves the PCK chain, QE report
/// signature, binding, QE identity and quote signature of the quote are valid.
void expect_crypto_valid(const std::string& quote) {
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  expect_error(verify(quote, collateral, at_unix(1769509141)), "tdx.fmspc_mismatch");
}

/// The 2023 go-tdx-guest TCB info / QE identity, after checking their signatures with the TCB
/// signing key, evaluated directly (what the full verification would do with a 2023 signing
/// certificate).
Outcome<TcbEvaluation> evaluate_2023(const std::string& quote_path) {
  const auto collateral = parse_collateral(go_tdx_guest_2023_documents());
  EXPECT_TRUE(collateral);
  if (!collateral) {
    return Failure{};
  }
  EVP_PKEY* signing_key = X509_get0_pubkey(collateral->tcb_info_issuer_chain().front().get());
  const auto& documents = collateral->documents();
  EXPECT_TRUE(
      verify_p256_raw(signing_key, as_bytes(documents.tcb_info), documents.tcb_info_signature));
  EXPECT_TRUE(verify_p256_raw(signing_key, as_bytes(documents.qe_identity),
                              documents.qe_identity_signature));
  const auto prepared = production_verifier().prepare(load_quote(quote_path));
  EXPECT_TRUE(prepared);
  if (!prepared) {
    return prepared.error();
  }
  auto qe_level = match_qe_tcb_level(collateral->qe_identity(), prepared->quote.qe_report.isv_svn);
  if (!qe_level) {
    return qe_level.error();
  }
  return evaluate_tdx_tcb(collateral->tcb_info(), prepared->pck->extension, prepared->quote,
                          *qe_level);
}

TEST(TdxVectors, GoTdxGuestSprQuoteMatchesNoLevelOfItsTcbInfo) {
  // VECTORS.md tdx_prod_quote_SPR_E4.dat: crypto valid; with sample_tcbInfo_response no TCB
  // level matches (levels need components 5,5,...).
  ATLS_REQUIRE_TESTDATA();
  expect_crypto_valid("go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  const auto evaluation = evaluate_2023("go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  ASSERT_FALSE(evaluation);
  EXPECT_EQ(id_of(evaluation.error()), "tdx.no_matching_tcb_level");
  // Its 39 trailing bytes are text, not zeros: they are ignored.
  const auto parsed = parse_quote(load_quote("go-tdx-guest/tdx_prod_quote_SPR_E4.dat"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trailing_bytes, 39U);
}

TEST(TdxVectors, TrusteeQuote4IsUpToDateButADebugTd) {
  // VECTORS.md trustee/tdx_quote_4.dat with go-tdx-guest collateral: UpToDate level; the TD
  // runs with TDATTRIBUTES.DEBUG set (01 00 00 10 ...), which verification rejects.
  ATLS_REQUIRE_TESTDATA();
  expect_crypto_valid("trustee/tdx_quote_4.dat");
  const auto evaluation = evaluate_2023("trustee/tdx_quote_4.dat");
  ASSERT_TRUE(evaluation) << evaluation.error().describe();
  EXPECT_EQ(evaluation->status, TcbStatus::UpToDate);
  EXPECT_FALSE(evaluation->module_status);  // module major version 0
  const auto parsed = parse_quote(load_quote("trustee/tdx_quote_4.dat"));
  ASSERT_TRUE(parsed);
  const auto attributes = check_td_attributes(*parsed);
  ASSERT_FALSE(attributes);
  EXPECT_EQ(id_of(attributes.error()), "tdx.td_debug_enabled");
}

TEST(TdxVectors, TrusteeQuote5MatchesNoLevel) {
  // VECTORS.md trustee/tdx_quote_5.dat with sample_tcbinfo_response_v5: components 1,1 < 2,2.
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = parse_collateral(
      with_tcb_info_body(load_documents(std::string(kPinned) + "dcap-quote-collateral-00.json"),
                         "go-tdx-guest/sample_tcbinfo_response_v5"));
  ASSERT_TRUE(collateral);
  expect_error(verify("trustee/tdx_quote_5.dat", collateral, at("2026-02-03T00:00:00Z")),
               "tdx.no_matching_tcb_level");
}

TEST(TdxVectors, GcpCosQuoteIsOutOfDateWithCollateral00) {
  // VECTORS.md ccel/cos-113-tdx-quote.dat (FMSPC 00806f050000, no TCB info bundled). Derived
  // here with collateral-00 of the same FMSPC: SGX components 7,7,2,2,3,1,0,3 and TDX SVN 7
  // reach the second level (OutOfDate, 2024-03-13).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral(std::string(kPinned) + "dcap-quote-collateral-00.json");
  ASSERT_TRUE(collateral);
  const auto result =
      verify("go-tdx-guest/ccel/cos-113-tdx-quote.dat", collateral, at_unix(1769509141));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, TcbStatus::OutOfDate);
  EXPECT_EQ(result->claims.platform_tcb_status, "OutOfDate");
  EXPECT_EQ(result->claims.tcb_date, "2024-03-13T00:00:00Z");
  // Module TDX_01 SVN 4 -> its OutOfDate level; advisories of the level (7) include the
  // module level's two.
  EXPECT_EQ(result->claims.tdx_module_tcb_status, "OutOfDate");
  ASSERT_EQ(result->tcb.advisory_ids.size(), 7U);
  EXPECT_EQ(result->tcb.advisory_ids.front(), "INTEL-SA-01010");
  EXPECT_EQ(hex48(result->measurements, 0).substr(0, 16), "dae67181d3d65e07");
  EXPECT_EQ(result->report_data, ReportData{});
}

TEST(TdxVectors, IntelQvlTestRootCollateralIsRejectedByTheProductionVerifier) {
  // VECTORS.md intel-qvl/: consistent under Intel's *test* root only.
  ATLS_REQUIRE_TESTDATA();
  const auto read = [](const char* name) {
    return atls::testing::read_text(atls::testing::testdata_path(std::string("intel-qvl/") + name));
  };
  PcsResponses pcs;
  pcs.tcb_info_body = read("tcbInfo.json");
  pcs.tcb_info_issuer_chain = read("tcbSignChain.pem");
  pcs.qe_identity_body = read("qeIdentity.json");
  pcs.qe_identity_issuer_chain = read("tcbSignChain.pem");
  pcs.pck_crl =
      atls::testing::read_bytes(atls::testing::testdata_path("intel-qvl/intermediateCaCrl.der"));
  pcs.pck_crl_issuer_chain = read("pckSignChain.pem");
  pcs.root_ca_crl =
      atls::testing::read_bytes(atls::testing::testdata_path("intel-qvl/rootCaCrl.pem"));
  auto documents = collateral_from_pcs(pcs);
  ASSERT_TRUE(documents) << documents.error().describe();
  const auto collateral = parse_collateral(*documents);
  ASSERT_TRUE(collateral);
  EXPECT_EQ(collateral->tcb_info().id, "SGX");
  EXPECT_EQ(collateral->tcb_info().version, 2U);
  const auto now = at("2020-01-01T00:00:00Z");

  // The test root has the production root's name but another key.
  const auto production = production_verifier().verify_collateral_signatures(*collateral, now);
  ASSERT_FALSE(production);
  EXPECT_EQ(id_of(production.error()), "tdx.root_crl_signature_invalid");
  // With the production root CA CRL, the test-root issuer chains are not trusted.
  auto mixed = *documents;
  mixed.root_ca_crl =
      load_documents(std::string(kPinned) + "dcap-quote-collateral-00.json").root_ca_crl;
  const auto mixed_result = production_verifier().verify_collateral_signatures(
      *parse_collateral(mixed), at_unix(1769509141));
  ASSERT_FALSE(mixed_result);
  EXPECT_EQ(id_of(mixed_result.error()), "tdx.root_not_trusted");

  // Trusting Intel's test root (explicitly insecure), everything verifies in its window.
  auto test_root_chain = parse_pem_chain(read("trustedRootCaCert.pem"),
                                         make_error_code(Errc::CollateralChainMalformed));
  ASSERT_TRUE(test_root_chain);
  auto anchors = TrustAnchors::insecure_test_roots_for_testing(
      {certificate_der(test_root_chain->front().get())});
  ASSERT_TRUE(anchors);
  const QuoteVerifier test_verifier(*anchors);
  const auto ok = test_verifier.verify_collateral_signatures(*collateral, now);
  EXPECT_TRUE(ok) << (ok ? "" : ok.error().describe());
  // ... but it is SGX collateral, not TDX.
  const auto tdx = test_verifier.verify_collateral(*collateral, now);
  ASSERT_FALSE(tdx);
  EXPECT_EQ(id_of(tdx.error()), "tdx.tcb_info_not_tdx");
}

TEST(TdxVectors, IntelQvlTdxSampleIsMalformed) {
  // VECTORS.md intel-qvl/tdx/: not cryptographically consistent; parser/negative use only.
  ATLS_REQUIRE_TESTDATA();
  const Bytes quote = load_quote("intel-qvl/tdx/quote.dat");
  const auto parsed = parse_quote(quote);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->header.version, 4);
  EXPECT_EQ(parsed->qe_auth_data.size(), 0U);
  const auto prepared = production_verifier().prepare(quote);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(id_of(prepared.error()), "tdx.pck_chain_malformed");
  const auto tcb_info = parse_tcb_info(
      split_signed_json(
          atls::testing::read_text(atls::testing::testdata_path("intel-qvl/tdx/tcbInfo.json")),
          "tcbInfo")
          ->text);
  ASSERT_FALSE(tcb_info);  // SVNs such as 65473 do not fit a TCB component
  EXPECT_EQ(id_of(tcb_info.error()), "tdx.tcb_info_malformed");
  const auto qe_identity = parse_qe_identity(
      split_signed_json(
          atls::testing::read_text(atls::testing::testdata_path("intel-qvl/tdx/qeIdentity.json")),
          "enclaveIdentity")
          ->text);
  EXPECT_TRUE(qe_identity) << qe_identity.error().describe();
}

TEST(TdxVectors, FlashbotsMockAssetsUseAChainShapeThisVerifierRejects) {
  // CATALOG mock-tdx-assets (main only): the TCB issuer chain has three certificates and the
  // PCK chain two. This verifier requires Intel's shapes ([signer, root] and [leaf, CA, root]),
  // so even with the mock root trusted the collateral is rejected (by name).
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = load_collateral("flashbots/mock-tdx-assets/mock-dcap-collateral.yaml");
  ASSERT_TRUE(collateral);
  EXPECT_TRUE(collateral->documents().pck_certificate_chain);
  EXPECT_EQ(to_hex(collateral->tcb_info().fmspc), "00906ea10000");
  auto anchors = TrustAnchors::insecure_test_roots_for_testing({atls::testing::read_bytes(
      atls::testing::testdata_path("flashbots/mock-tdx-assets/mock-root-ca.der"))});
  ASSERT_TRUE(anchors);
  const QuoteVerifier verifier(*anchors);
  const auto result = verifier.verify_collateral(*collateral, at_unix(1767225601));
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.tcb_info_chain_invalid");
  const auto production = production_verifier().verify_collateral(*collateral, at_unix(1767225601));
  ASSERT_FALSE(production);
  EXPECT_EQ(id_of(production.error()), "tdx.root_not_trusted");
}

TEST(TdxVectors, TdxVerifierFindsCollateralByFmspcAndCaType) {
  // The attest::Verifier entry point with several bundles cached; the Azure override stays off
  // for dcap-tdx/gcp-tdx/qemu-tdx evidence (interop §5.2.1).
  ATLS_REQUIRE_TESTDATA();
  auto source = std::make_shared<StaticCollateralSource>();
  for (const char* path :
       {"flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json",
        "flashbots/attestation-test-assets/azure-collateral.yaml",
        "dcap-qvl/tdx_quote_collateral.json"}) {
    ASSERT_TRUE(source->add(load_collateral(path))) << path;
  }
  const TdxVerifier verifier(source);
  EXPECT_EQ(verifier.name(), "dcap");
  const Bytes quote = load_quote(std::string(kFlashbots) + "dcap-tdx-1766059550570652607");
  for (const auto type :
       {AttestationType::DcapTdx, AttestationType::GcpTdx, AttestationType::QemuTdx}) {
    const auto claims = verifier.verify(type, quote, report_data_of(quote), at_unix(1769509141));
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->type, type);
    EXPECT_EQ(claims->tcb_status, "UpToDate");
    EXPECT_TRUE(claims->advisory_ids.empty());
    ASSERT_EQ(claims->measurements.size(), 5U);
    EXPECT_EQ(to_hex(claims->measurements.at(0)).substr(0, 8), "a5844e88");
    ASSERT_TRUE(claims->tdx);
    EXPECT_EQ(claims->tdx->tcb_status, "UpToDate");
    EXPECT_EQ(claims->tdx->td_attributes, 0x10000000U);
    EXPECT_EQ(claims->tdx->xfam, 0x000600e7U);
  }
  const Bytes azure = load_quote(std::string(kFlashbots) + "azure_failed_dcap_quote_10.bin");
  const auto no_override =
      verifier.verify(AttestationType::DcapTdx, azure, report_data_of(azure), at_unix(1771414156));
  ASSERT_FALSE(no_override);
  EXPECT_EQ(error_id(no_override.error()), "tdx.no_matching_tcb_level");
  // No collateral for the go-tdx-guest FMSPC 50806f000000.
  const Bytes spr = load_quote("go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  const auto unavailable = verifier.verify_detailed(AttestationType::DcapTdx, spr,
                                                    report_data_of(spr), at_unix(1769509141));
  ASSERT_FALSE(unavailable);
  EXPECT_EQ(id_of(unavailable.error()), "tdx.collateral_unavailable");
  EXPECT_NE(unavailable.error().detail.find("50806f000000"), std::string::npos);
}

/// The TD quote embedded in a flashbots azure-tdx evidence document (`tdx_quote_base64`,
/// URL-safe base64; CATALOG "Azure attestation documents").
Bytes embedded_azure_quote(const std::string& document_path) {
  const YAML::Node document =
      YAML::Load(atls::testing::read_text(atls::testing::testdata_path(document_path)));
  std::string text = document["tdx_quote_base64"].as<std::string>();
  for (auto& c : text) {
    c = c == '-' ? '+' : (c == '_' ? '/' : c);
  }
  while (text.size() % 4 != 0) {
    text.push_back('=');
  }
  Bytes out(text.size() / 4 * 3);
  const int length =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  EXPECT_GT(length, 0);
  const std::size_t padding = static_cast<std::size_t>(std::count(text.end() - 2, text.end(), '='));
  out.resize(static_cast<std::size_t>(std::max(length, 0)) - padding);
  return out;
}

TEST(TdxVectors, TdQuotesEmbeddedInAzureEvidenceAreUpToDate) {
  // CATALOG azure-tdx-1764662251380464271 (derived: TD quote UpToDate without override, with
  // collateral02 at 1771423480) and azure-tdx-with-ak-intermediates-1780922561 (derived: UpToDate
  // with its collateral at 1780922561). REPORTDATA = SHA-256(HCL var data) || 32 zeros.
  ATLS_REQUIRE_TESTDATA();
  struct Case {
    const char* evidence;
    const char* collateral;
    std::int64_t now;
    const char* report_data_prefix;
  };
  for (const auto& c : {
           Case{"azure-tdx-1764662251380464271.yaml", "azure-collateral02.yaml", 1771423480,
                "bec74f5e38c26779cd35ba5083560117b3701d3efef229156ec2ec59ecae880e"},
           Case{"azure-tdx-with-ak-intermediates-1780922561.yaml",
                "azure-collateral-with-ak-intermediates-1780922561.yaml", 1780922561,
                "48bd099b6e029bd4f96b14266444f1453d2f9e7a177c346dc339f5d16bcad7df"},
       }) {
    SCOPED_TRACE(c.evidence);
    const Bytes quote = embedded_azure_quote(std::string(kFlashbots) + c.evidence);
    const auto collateral = load_collateral(std::string(kFlashbots) + c.collateral);
    ASSERT_TRUE(collateral);
    ReportData expected{};
    const auto prefix = from_hex(c.report_data_prefix).value();
    std::copy(prefix.begin(), prefix.end(), expected.begin());
    const auto result = production_verifier().verify(quote, *collateral, at_unix(c.now), expected);
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->status, TcbStatus::UpToDate);
    EXPECT_FALSE(result->claims.azure_outdated_tcb_override_applied);
    EXPECT_EQ(to_hex(result->claims.fmspc), "90c06f000000");
  }
}

TEST(TdxVectors, GoTdxGuestReportIsNotAQuote) {
  // VECTORS.md go-tdx-guest/report.dat: a 1024-byte TDREPORT, parser test only.
  ATLS_REQUIRE_TESTDATA();
  const auto parsed = parse_quote(load_quote("go-tdx-guest/report.dat"));
  ASSERT_FALSE(parsed);
  EXPECT_EQ(&parsed.error().code.category(), &tdx_category());
}

TEST(TdxVectors, IntelQvlTestPckCarriesItsFmspc) {
  // intel-qvl/pckCert.pem (test root) belongs to tcbInfo.json's FMSPC 00707F000000.
  ATLS_REQUIRE_TESTDATA();
  auto chain = parse_pem_chain(
      atls::testing::read_text(atls::testing::testdata_path("intel-qvl/pckCert.pem")),
      make_error_code(Errc::PckChainMalformed));
  ASSERT_TRUE(chain);
  const auto extension = parse_pck_extension(chain->front().get());
  ASSERT_TRUE(extension) << extension.error().describe();
  EXPECT_EQ(to_hex(extension->fmspc), "00707f000000");
  EXPECT_EQ(pck_ca_type_from_issuer(chain->front().get()), PckCaType::Processor);
}

}  // namespace
}  // namespace atls::attest::tdx
