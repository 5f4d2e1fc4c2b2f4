// The real SEV-SNP vectors of shared/testdata/VECTORS.md §2 (and the Azure SNP reports of §3),
// each verified by the production verifier (pinned AMD anchors) with its documented outcome.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attest/snp/snp_json.h"
#include "attest/snp/snp_verifier.h"
#include "core/digest.h"
#include "snp_test_support.h"

namespace atls::attest::snp {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

// Inside the validity of every bundled certificate except the 2025 Azure VCEK and the VLEK's
// (2023-07-19 → 2024-07-19).
const SystemTime kNow = utc(2024, 1, 1);

struct Vector {
  Bytes report;
  CertTable certificates;
};

Vector go_sev_guest() {
  const auto chain = load_pem_chain("go-sev-guest/milan.testcer");  // ASK, ARK
  return {
      load_report("go-sev-guest/attestation.bin"),
      make_table(load_der("go-sev-guest/vcek.testcer"), guids::vcek(), chain.at(0), chain.at(1))};
}

Vector virtee_milan() {
  const auto chain = load_pem_chain("virtee-sev/cert_chain_milan");  // ASK, ARK
  return {
      load_report("virtee-sev/report_milan.hex"),
      make_table(load_der("virtee-sev/vcek_milan.der"), guids::vcek(), chain.at(0), chain.at(1))};
}

Vector trustee_milan(const std::string& vcek = "trustee/snp/test-vcek.der") {
  const auto chain = load_pem_chain("trustee/snp/milan_ask_ark_asvk.pem");  // ASK, ARK, ASVK
  return {load_report("trustee/snp/test-report.bin"),
          make_table(load_der(vcek), guids::vcek(), chain.at(0), chain.at(1))};
}

Vector azure_cvm_reverse_proxy() {
  const auto chain = load_pem_chain("cvm-reverse-proxy/snp/certchain.pem");  // ASK, ARK
  return {load_report("cvm-reverse-proxy/snp/attestation.bin"),
          make_table(load_der("cvm-reverse-proxy/snp/vcek.cert"), guids::vcek(), chain.at(0),
                     chain.at(1))};
}

Vector vlek_report() {
  const auto vlek = load_pem_chain("cvm-reverse-proxy/snp/vlek.pem");
  const auto chain = load_pem_chain("cvm-reverse-proxy/snp/vlekcertchain.pem");  // ASVK, ARK
  return {load_report("cvm-reverse-proxy/snp/attestation_vlek.hex"),
          make_table(vlek.at(0), guids::vlek(), chain.at(0), chain.at(1))};
}

Vector azure_cvm_tooling() {
  const auto certs = load_pem_chain("azure-cvm-tooling/certs.pem");  // VCEK, ASK, ARK
  return {load_report("azure-cvm-tooling/hcl-report-snp.bin", 0x20),
          make_table(certs.at(0), guids::vcek(), certs.at(1), certs.at(2))};
}

// trustee az-snp-vtpm evidence-v0.json: {"report": [HCL report bytes], "vcek": PEM}; the HCL
// report holds a version-3 Milan report at 0x20.
Vector trustee_azure_v3() {
  const auto document = nlohmann::json::parse(atls::testing::read_text(
      atls::testing::testdata_path("trustee/az-snp-vtpm/evidence-v0.json")));
  const auto hcl = document.at("report").get<std::vector<std::uint8_t>>();
  Bytes report(hcl.begin() + 0x20, hcl.begin() + 0x20 + static_cast<std::ptrdiff_t>(kReportSize));
  auto vcek = parse_certificates_pem(document.at("vcek").get<std::string>());
  EXPECT_TRUE(vcek);
  return {std::move(report),
          make_table(vcek ? certificate_der(vcek->front().get()) : Bytes{}, guids::vcek(), {}, {})};
}

Outcome<VerifiedClaims> verify(const SnpVerifier& verifier, const Vector& vector,
                               SystemTime now = kNow,
                               AttestationType type = AttestationType::SevSnp) {
  const Bytes evidence = encode_evidence(vector.report, vector.certificates);
  return verifier.verify_evidence(type, evidence, report_data_of(vector.report), now);
}

std::string error_name(const Outcome<VerifiedClaims>& result) {
  return result ? "ok" : error_id(result.error().code);
}

class SnpVectors : public ::testing::Test {
 protected:
  void SetUp() override { ATLS_REQUIRE_TESTDATA(); }
  SnpVerifier verifier_;
};

TEST_F(SnpVectors, GoSevGuestMilanReportVerifies) {
  const auto result = verify(verifier_, go_sev_guest());
  ASSERT_TRUE(result) << result.error().describe();
  ASSERT_TRUE(result->snp);
  const SnpClaims& claims = *result->snp;
  EXPECT_EQ(result->type, AttestationType::SevSnp);
  EXPECT_EQ(claims.report_version, 2U);
  EXPECT_EQ(claims.product, "Milan");
  EXPECT_EQ(claims.signer, Signer::Vcek);
  EXPECT_EQ(claims.policy, 0xb0000U);
  EXPECT_NE(claims.policy & guest_policy::kDebug, 0U);  // the policy module must reject it
  EXPECT_EQ(claims.vmpl, 0U);
  EXPECT_EQ(claims.reported_tcb.raw, 0x4405000000000002U);
  EXPECT_EQ(claims.reported_tcb.bootloader, 2);
  EXPECT_EQ(claims.reported_tcb.tee, 0);
  EXPECT_EQ(claims.reported_tcb.snp, 5);
  EXPECT_EQ(claims.reported_tcb.microcode, 68);
  EXPECT_FALSE(claims.reported_tcb.fmc);
  EXPECT_EQ(to_hex(claims.measurement).substr(0, 8), "b07af962");
  EXPECT_EQ(to_hex(claims.chip_id).substr(0, 8), "3ac3fe21");
  EXPECT_EQ(claims.current_firmware, (FirmwareVersion{1, 49, 3}));
  EXPECT_FALSE(claims.cpuid);
  EXPECT_EQ(to_hex(result->report_data).substr(0, 10), "0102030405");
  EXPECT_TRUE(result->measurements.empty());
}

TEST_F(SnpVectors, GcpSnpTypeVerifiesTheSameWay) {
  const auto result = verify(verifier_, go_sev_guest(), kNow, AttestationType::GcpSnp);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->type, AttestationType::GcpSnp);
  EXPECT_EQ(error_name(verify(verifier_, go_sev_guest(), kNow, AttestationType::DcapTdx)),
            "snp.unsupported_attestation_type");
}

TEST_F(SnpVectors, VirteeMilanReportVerifiesAndByte21FlipFails) {
  auto vector = virtee_milan();
  const auto result = verify(verifier_, vector);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->snp->reported_tcb.raw, 0x7308000000000003U);
  EXPECT_EQ(result->snp->policy, 0x30000U);
  EXPECT_EQ(to_hex(result->snp->measurement).substr(0, 8), "7a1e5c26");

  vector.report[21] ^= 0x01;  // inside FAMILY_ID (virtee test `milan_report`)
  EXPECT_EQ(error_name(verify(verifier_, vector)), "snp.report_signature_invalid");
}

TEST_F(SnpVectors, TrusteeReportVerifiesAgainstReportedTcbNotCurrentTcb) {
  const auto result = verify(verifier_, trustee_milan());
  ASSERT_TRUE(result) << result.error().describe();
  const SnpClaims& claims = *result->snp;
  EXPECT_EQ(claims.guest_svn, 4U);
  EXPECT_EQ(claims.policy, 0x3001fU);
  EXPECT_EQ(claims.current_tcb.microcode, 206);  // CURRENT_TCB differs from the VCEK's TCB
  EXPECT_EQ(claims.reported_tcb.microcode, 115);
  EXPECT_NE(claims.current_tcb.raw, claims.reported_tcb.raw);
  EXPECT_EQ(claims.family_id[0], 0x01);
  EXPECT_EQ(claims.image_id[0], 0x02);
  EXPECT_EQ(to_hex(claims.id_key_digest).substr(0, 8), "03562158");
}

TEST_F(SnpVectors, TamperedVceksFailTheAskSignature) {
  for (const std::string name :
       {"trustee/snp/test-vcek-invalid-legacy.der", "trustee/snp/test-vcek-invalid-new.der"}) {
    EXPECT_EQ(error_name(verify(verifier_, trustee_milan(name))), "snp.vcek_signature_invalid")
        << name;
  }
}

TEST_F(SnpVectors, AzureCvmReverseProxyReportVerifiesWithItsVcek) {
  const auto vector = azure_cvm_reverse_proxy();
  const auto result = verify(verifier_, vector);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->snp->guest_svn, 2U);
  EXPECT_EQ(result->snp->reported_tcb.snp, 6);
  EXPECT_EQ(result->snp->reported_tcb.microcode, 93);
  // REPORT_DATA[0:32] is SHA-256 of the HCL runtime data (Azure's binding).
  const Bytes runtime = atls::testing::read_bytes(
      atls::testing::testdata_path("cvm-reverse-proxy/snp/runtimedata.bin"));
  const auto digest = sha256(runtime);
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), result->report_data.begin()));
}

TEST_F(SnpVectors, VlekReportSignatureDoesNotVerify) {
  // VECTORS.md: chain and TCB match, but the report was not signed by this VLEK.
  const auto vector = vlek_report();
  EXPECT_EQ(error_name(verify(verifier_, vector)), "snp.report_signature_invalid");
}

TEST_F(SnpVectors, VlekIsExpiredAfterItsNotAfter) {
  const auto result = verify(verifier_, vlek_report(), utc(2024, 7, 20));
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error().code), "snp.certificate_expired");
  EXPECT_NE(result.error().detail.find("VLEK notAfter 2024-07-19T08:29:28Z"), std::string::npos)
      << result.error().detail;
}

TEST_F(SnpVectors, AzureCvmToolingReportHasAnotherChipsVcek) {
  EXPECT_EQ(error_name(verify(verifier_, azure_cvm_tooling())), "snp.chip_id_mismatch");
}

TEST_F(SnpVectors, TrusteeAzureVersion3ReportVerifies) {
  const auto result = verify(verifier_, trustee_azure_v3(), utc(2025, 6, 1));
  ASSERT_TRUE(result) << result.error().describe();
  const SnpClaims& claims = *result->snp;
  EXPECT_EQ(claims.report_version, 3U);
  ASSERT_TRUE(claims.cpuid);
  EXPECT_EQ(claims.cpuid->family, 0x19);
  EXPECT_EQ(claims.cpuid->model, 0x01);
  EXPECT_EQ(claims.product, "Milan");
  EXPECT_EQ(claims.reported_tcb.bootloader, 4);
  EXPECT_EQ(claims.reported_tcb.snp, 24);
  EXPECT_EQ(claims.reported_tcb.microcode, 219);
}

TEST_F(SnpVectors, CertificatesAreCheckedAtNow) {
  // go-sev-guest VCEK: 2022-09-24 → 2029-09-24.
  const auto early = verify(verifier_, go_sev_guest(), utc(2022, 9, 1));
  ASSERT_FALSE(early);
  EXPECT_EQ(error_id(early.error().code), "snp.certificate_not_yet_valid");
  EXPECT_NE(early.error().detail.find("VCEK notBefore"), std::string::npos);
  EXPECT_EQ(error_name(verify(verifier_, go_sev_guest(), utc(2029, 10, 1))),
            "snp.certificate_expired");
}

TEST_F(SnpVectors, ReportDataMustMatch) {
  const auto vector = go_sev_guest();
  const Bytes evidence = encode_evidence(vector.report, vector.certificates);
  ReportData expected = report_data_of(vector.report);
  expected[63] ^= 1;
  const auto result = verifier_.verify(AttestationType::SevSnp, evidence, expected, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error()), "snp.report_data_mismatch");
}

TEST_F(SnpVectors, EveryFlippedSignedByteFails) {
  const auto vector = go_sev_guest();
  for (std::size_t i = 0; i < kSignedSize; ++i) {
    auto tampered = vector;
    tampered.report[i] ^= 0x80;
    const auto result = verify(verifier_, tampered);
    EXPECT_FALSE(result) << "byte 0x" << std::hex << i;
  }
}

TEST_F(SnpVectors, FlippedSignatureBytesFail) {
  const auto vector = go_sev_guest();
  for (const std::size_t offset : {0x2A0UL, 0x2A0UL + 47, 0x2A0UL + 48, 0x2E8UL, 0x2E8UL + 71}) {
    auto tampered = vector;
    tampered.report[offset] ^= 0x01;
    EXPECT_EQ(error_name(verify(verifier_, tampered)), "snp.report_signature_invalid") << offset;
  }
  auto tampered = vector;
  tampered.report[0x330] = 1;  // after R and S: reserved
  EXPECT_EQ(error_name(verify(verifier_, tampered)), "snp.report_reserved_nonzero");
}

TEST_F(SnpVectors, EvidenceArkMustBeThePinnedOne) {
  auto vector = go_sev_guest();
  const auto genoa = load_pem_chain("go-sev-guest/trust/ask_ark_genoa.pem");  // ASK, ARK
  vector.certificates = make_table(load_der("go-sev-guest/vcek.testcer"), guids::vcek(),
                                   load_pem_chain("go-sev-guest/milan.testcer").at(0), genoa.at(1));
  EXPECT_EQ(error_name(verify(verifier_, vector)), "snp.ark_not_pinned");
}

TEST_F(SnpVectors, AskOfAnotherProductInEvidenceIsNotUsed) {
  // A Genoa ASK carries a different subject than the Milan VCEK's issuer, so it is not used
  // for the VCEK and the pinned Milan ASK verifies the chain.
  auto vector = go_sev_guest();
  const auto genoa = load_pem_chain("go-sev-guest/trust/ask_ark_genoa.pem");
  vector.certificates.entries[1].data = genoa.at(0);
  EXPECT_TRUE(verify(verifier_, vector));
}

TEST_F(SnpVectors, CertificatesMayComeFromTheSourceInstead) {
  const auto vector = go_sev_guest();
  const Bytes bare = encode_evidence(vector.report, {});
  const ReportData expected = report_data_of(vector.report);

  const auto missing = verifier_.verify_evidence(AttestationType::SevSnp, bare, expected, kNow);
  ASSERT_FALSE(missing);
  EXPECT_EQ(error_id(missing.error().code), "snp.certificate_missing");

  auto source = std::make_shared<InMemoryCertificateSource>();
  const SnpVerifier with_source(source);
  const auto empty_cache =
      with_source.verify_evidence(AttestationType::SevSnp, bare, expected, kNow);
  ASSERT_FALSE(empty_cache);
  EXPECT_EQ(error_id(empty_cache.error().code), "snp.certificate_missing");

  // A version-2 report has no CPUID: the verifier asks for Milan, then Genoa; the product is
  // then taken from the certificate's productName.
  VcekQuery query;
  query.product = Product::Genoa;
  std::copy_n(vector.report.begin() + 0x1A0, 64, query.chip_id.begin());
  query.reported_tcb = decode_tcb(0x4405000000000002, Product::Genoa);
  source->add(query, load_der("go-sev-guest/vcek.testcer"));
  const auto found = with_source.verify_evidence(AttestationType::SevSnp, bare, expected, kNow);
  ASSERT_TRUE(found) << found.error().describe();
  EXPECT_EQ(found->snp->product, "Milan");
}

TEST_F(SnpVectors, SignerFieldMustMatchTheCertificateKind) {
  auto vector = go_sev_guest();
  vector.certificates.entries[0].guid = guids::vlek();  // a VCEK offered as VLEK
  EXPECT_EQ(error_name(verify(verifier_, vector)), "snp.signer_mismatch");

  auto vlek = vlek_report();
  vlek.certificates.entries[0].guid = guids::vcek();  // a VLEK offered as VCEK
  EXPECT_EQ(error_name(verify(verifier_, vlek)), "snp.signer_mismatch");

  auto no_leaf = vlek_report();
  no_leaf.certificates.entries.erase(no_leaf.certificates.entries.begin());
  EXPECT_EQ(error_name(verify(verifier_, no_leaf)), "snp.certificate_missing");
}

TEST_F(SnpVectors, VerifyReportWithoutBindingCheck) {
  const auto vector = azure_cvm_reverse_proxy();
  const auto claims =
      verifier_.verify_report(vector.report, vector.certificates, std::nullopt, kNow);
  ASSERT_TRUE(claims) << claims.error().describe();
  EXPECT_EQ(claims->claims.product, "Milan");
  EXPECT_EQ(claims->report_data, report_data_of(vector.report));
  // With an expected value the binding is checked.
  ReportData wrong{};
  const auto mismatch = verifier_.verify_report(vector.report, vector.certificates, wrong, kNow);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(error_id(mismatch.error().code), "snp.report_data_mismatch");
}

TEST_F(SnpVectors, ChainCacheDoesNotSkipPerReportChecks) {
  // Same certificates (cache hit) with a tampered report and with a time outside validity.
  const auto vector = go_sev_guest();
  ASSERT_TRUE(verify(verifier_, vector));
  auto tampered = vector;
  tampered.report[0x90] ^= 1;
  EXPECT_EQ(error_name(verify(verifier_, tampered)), "snp.report_signature_invalid");
  EXPECT_EQ(error_name(verify(verifier_, vector, utc(2030, 1, 1))), "snp.certificate_expired");
  EXPECT_EQ(error_name(verify(verifier_, vector)), "ok");
}

TEST_F(SnpVectors, ProtocolExampleMatchesTheDocumentation) {
  // docs/protocol.md §7.3.
  const auto vector = go_sev_guest();
  const Bytes evidence = encode_evidence(vector.report, vector.certificates);
  EXPECT_EQ(evidence.size(), 5972U);
  EXPECT_EQ(to_hex(ByteView(evidence).first(16)), "534e504501000000a0040000a4120000");
  EXPECT_EQ(to_hex(sha256(evidence)),
            "65bee8d68c93723fde1dea5009c35f555c580c53784a2cf75cacbe4c44be05d5");
}

TEST_F(SnpVectors, MeasurementHeaderOfTheVirteeReport) {
  // docs/protocol.md §7.4.
  const auto result = verify(verifier_, virtee_milan());
  ASSERT_TRUE(result) << result.error().describe();
  const auto header = nlohmann::json::parse(measurement_header_json(*result->snp));
  EXPECT_EQ(header["policy"], "0000000000030000");
  EXPECT_EQ(header["reported_tcb"], "7308000000000003");
  EXPECT_EQ(header["vmpl"], "00000000");
  EXPECT_EQ(header["guest_svn"], "00000000");
  EXPECT_EQ(header["measurement"].get<std::string>().substr(0, 8), "7a1e5c26");
  EXPECT_EQ(header["chip_id"].get<std::string>().substr(0, 8), "d49554ec");
  const auto json = verify_json(*result->snp);
  EXPECT_EQ(json["signer"], "vcek");
  EXPECT_EQ(json["product"], "Milan");
  EXPECT_EQ(json["policy"]["debug"], false);
  EXPECT_EQ(json["reported_tcb"]["microcode"], 115);
}

}  // namespace
}  // namespace atls::attest::snp
