// The INSECURE MOCK SNP PKI and attester, and the SNP verifier paths that need generated
// evidence: Turin/Genoa layouts, VLEK, report version 5, certificate sources, CRLs, forged
// intermediates, and the production verifier's refusal of mock evidence.
#include "attest/mock/snp_mock.h"

#include <gtest/gtest.h>

#include <thread>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/snp_verifier.h"

namespace atls::attest::mock {
namespace {

using snp::Product;
using snp::Signer;

const SystemTime kNow = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);

std::shared_ptr<const MockSnpPki> pki() {
  auto shared = MockSnpPki::shared();
  EXPECT_TRUE(shared) << (shared ? "" : shared.error().describe());
  return shared ? *shared : nullptr;
}

// A second, unrelated mock PKI (same names, other keys) for forgery tests.
std::shared_ptr<const MockSnpPki> other_pki() {
  static const auto kOther = MockSnpPki::generate();
  EXPECT_TRUE(kOther);
  return kOther ? *kOther : nullptr;
}

ReportData binding(std::uint8_t seed) {
  ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(seed + i);
  }
  return data;
}

std::shared_ptr<MockSnpAttester> attester(MockSnpConfig config = {},
                                          std::shared_ptr<const MockSnpPki> from = pki()) {
  auto created = MockSnpAttester::create(std::move(from), config);
  EXPECT_TRUE(created) << (created ? "" : created.error().describe());
  return created ? *created : nullptr;
}

Bytes evidence_of(const MockSnpAttester& mock, const ReportData& data = binding(1)) {
  auto evidence = mock.generate(data);
  EXPECT_TRUE(evidence);
  return evidence ? *evidence : Bytes{};
}

std::string outcome(const snp::SnpVerifier& verifier, ByteView evidence,
                    const ReportData& data = binding(1), SystemTime now = kNow,
                    AttestationType type = AttestationType::SevSnp) {
  const auto result = verifier.verify_evidence(type, evidence, data, now);
  return result ? "ok" : error_id(result.error().code);
}

// Replaces the evidence's certificate table.
Bytes with_table(const Bytes& evidence, const snp::CertTable& table) {
  auto decoded = snp::decode_evidence(evidence);
  EXPECT_TRUE(decoded);
  return snp::encode_evidence(decoded->report, table);
}

snp::CertTable table_of(const Bytes& evidence) {
  auto decoded = snp::decode_evidence(evidence);
  EXPECT_TRUE(decoded);
  return decoded ? decoded->certificates : snp::CertTable{};
}

class SnpMock : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki());
    verifier_ = make_insecure_mock_snp_verifier(*pki());
  }
  std::shared_ptr<const snp::SnpVerifier> verifier_;
};

TEST_F(SnpMock, DefaultMilanEvidenceVerifiesWithTheMockRoot) {
  MockSnpConfig config;
  config.guest_svn = 7;
  config.host_data.fill(0x44);
  config.vmpl = 1;
  const auto mock = attester(config);
  ASSERT_TRUE(mock);
  EXPECT_EQ(mock->type(), AttestationType::SevSnp);
  EXPECT_TRUE(verifier_->insecure_for_testing());

  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  const snp::SnpClaims& claims = *result->snp;
  EXPECT_EQ(claims.report_version, 3U);
  EXPECT_EQ(claims.product, "Milan");
  ASSERT_TRUE(claims.cpuid);
  EXPECT_EQ(claims.cpuid->family, 0x19);
  EXPECT_EQ(claims.signer, Signer::Vcek);
  EXPECT_EQ(claims.measurement, config.measurement);
  EXPECT_EQ(claims.host_data, config.host_data);
  EXPECT_EQ(claims.guest_svn, 7U);
  EXPECT_EQ(claims.vmpl, 1U);
  EXPECT_EQ(claims.chip_id, config.chip_id);
  EXPECT_EQ(claims.reported_tcb.snp, 22);
  EXPECT_EQ(claims.reported_tcb.microcode, 213);
  EXPECT_EQ(claims.current_firmware, (snp::FirmwareVersion{1, 55, 39}));
  EXPECT_FALSE(claims.launch_mit_vector);
  EXPECT_EQ(result->report_data, binding(1));
}

TEST_F(SnpMock, ProductionVerifierRejectsMockEvidence) {
  const snp::SnpVerifier production;
  EXPECT_FALSE(production.insecure_for_testing());
  const auto mock = attester();
  const Bytes evidence = evidence_of(*mock);
  EXPECT_EQ(outcome(production, evidence), "snp.ark_not_pinned");

  // Without the mock ARK the mock ASK (the VCEK's issuer) fails against AMD's ARK.
  auto table = table_of(evidence);
  std::erase_if(table.entries, [](const auto& entry) { return entry.guid == snp::guids::ark(); });
  EXPECT_EQ(outcome(production, with_table(evidence, table)), "snp.ask_signature_invalid");

  // And without any intermediate, AMD's pinned ASK did not sign the mock VCEK.
  std::erase_if(table.entries, [](const auto& entry) { return entry.guid == snp::guids::ask(); });
  EXPECT_EQ(outcome(production, with_table(evidence, table)), "snp.vcek_signature_invalid");
}

TEST_F(SnpMock, TurinReportUsesFmcLayoutAndEightByteHwId) {
  MockSnpConfig config;
  config.product = Product::Turin;
  config.chip_id.fill(0);
  for (std::size_t i = 0; i < 8; ++i) {
    config.chip_id[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  config.tcb = {0, 3, 1, 4, 9, std::uint8_t{2}};
  const auto mock = attester(config);
  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  const snp::SnpClaims& claims = *result->snp;
  EXPECT_EQ(claims.product, "Turin");
  ASSERT_TRUE(claims.reported_tcb.fmc);
  EXPECT_EQ(*claims.reported_tcb.fmc, 2);
  EXPECT_EQ(claims.reported_tcb.bootloader, 3);
  EXPECT_EQ(claims.reported_tcb.tee, 1);
  EXPECT_EQ(claims.reported_tcb.snp, 4);
  EXPECT_EQ(claims.reported_tcb.microcode, 9);
  EXPECT_EQ(claims.reported_tcb.raw, 0x0900000004010302U);

  // A Turin CHIP_ID that uses more than 8 bytes does not match the 8-byte hwID.
  auto report = mock->generate_report(binding(1));
  ASSERT_TRUE(report);
  (*report)[0x1A0 + 20] = 1;
  const Bytes tampered = snp::encode_evidence(*report, table_of(evidence_of(*mock)));
  EXPECT_EQ(outcome(*verifier_, tampered), "snp.chip_id_mismatch");
}

TEST_F(SnpMock, TurinVcekMustCarryFmcSpl) {
  MockSnpConfig config;
  config.product = Product::Turin;
  config.chip_id.fill(0);
  config.chip_id[0] = 1;
  const auto mock = attester(config);
  MockSnpLeafSpec spec;
  spec.product = Product::Turin;
  spec.hw_id = Bytes(config.chip_id.begin(), config.chip_id.begin() + 8);
  spec.tcb = config.tcb;
  spec.omit_extension_oid = std::string(snp::amd_oid::kFmcSpl);
  auto leaf = pki()->issue_leaf(spec);
  ASSERT_TRUE(leaf);
  auto table = table_of(evidence_of(*mock));
  table.entries[0].data = leaf->der;
  EXPECT_EQ(outcome(*verifier_, with_table(evidence_of(*mock), table)),
            "snp.certificate_extension_missing");
}

TEST_F(SnpMock, GenoaVersion5ReportExposesMitigationVectors) {
  MockSnpConfig config;
  config.product = Product::Genoa;
  config.report_version = 5;
  const auto mock = attester(config);
  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->snp->product, "Genoa");
  EXPECT_EQ(result->snp->report_version, 5U);
  EXPECT_EQ(result->snp->launch_mit_vector, std::optional<std::uint64_t>(3));
  EXPECT_EQ(result->snp->current_mit_vector, std::optional<std::uint64_t>(7));
}

TEST_F(SnpMock, Version2ReportTakesTheProductFromTheCertificate) {
  MockSnpConfig config;
  config.product = Product::Genoa;
  config.report_version = 2;
  const auto mock = attester(config);
  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->snp->product, "Genoa");
  EXPECT_FALSE(result->snp->cpuid);
}

TEST_F(SnpMock, VlekSignedEvidenceVerifies) {
  MockSnpConfig config;
  config.signer = Signer::Vlek;
  const auto mock = attester(config);
  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->snp->signer, Signer::Vlek);
  EXPECT_EQ(result->snp->chip_id, (std::array<std::uint8_t, 64>{}));

  // The production verifier: the mock ASVK is not signed by AMD.
  const Bytes evidence = evidence_of(*mock);
  auto table = table_of(evidence);
  std::erase_if(table.entries, [](const auto& entry) { return entry.guid == snp::guids::ark(); });
  EXPECT_EQ(outcome(snp::SnpVerifier(), with_table(evidence, table)), "snp.asvk_signature_invalid");
}

TEST_F(SnpMock, BothHwIdEncodingsVerify) {
  for (const bool octet_string : {false, true}) {
    MockSnpConfig config;
    config.hw_id_as_octet_string = octet_string;
    const auto mock = attester(config);
    EXPECT_EQ(outcome(*verifier_, evidence_of(*mock)), "ok") << octet_string;
  }
}

TEST_F(SnpMock, ExportedArkLetsAnotherProcessVerify) {
  const std::string pem = pki()->ark_pem();
  ASSERT_NE(pem.find("BEGIN CERTIFICATE"), std::string::npos);
  auto verifier = make_insecure_mock_snp_verifier(pem);
  ASSERT_TRUE(verifier) << verifier.error().describe();
  const auto mock = attester();
  EXPECT_EQ(outcome(**verifier, evidence_of(*mock)), "ok");

  // Without the ASK in the evidence the ARK-only verifier has no intermediate.
  MockSnpConfig config;
  config.include_intermediate = false;
  EXPECT_EQ(outcome(**verifier, evidence_of(*attester(config))), "snp.certificate_missing");

  EXPECT_FALSE(make_insecure_mock_snp_verifier("not a certificate"));
}

TEST_F(SnpMock, EvidenceFromAnotherMockRootIsRejected) {
  const auto foreign = attester({}, other_pki());
  ASSERT_TRUE(foreign);
  const Bytes evidence = evidence_of(*foreign);
  EXPECT_EQ(outcome(*verifier_, evidence), "snp.ark_not_pinned");

  // A forged ASK (same name, other key) in place of the real one.
  auto table = table_of(evidence);
  std::erase_if(table.entries, [](const auto& entry) { return entry.guid == snp::guids::ark(); });
  EXPECT_EQ(outcome(*verifier_, with_table(evidence, table)), "snp.ask_signature_invalid");

  // A foreign VCEK with our pinned test ASK.
  std::erase_if(table.entries, [](const auto& entry) { return entry.guid == snp::guids::ask(); });
  EXPECT_EQ(outcome(*verifier_, with_table(evidence, table)), "snp.vcek_signature_invalid");
}

TEST_F(SnpMock, VlekFromAnotherRootFailsItsSignature) {
  MockSnpConfig config;
  config.signer = Signer::Vlek;
  config.include_intermediate = false;
  config.include_ark = false;
  const auto foreign = attester(config, other_pki());
  EXPECT_EQ(outcome(*verifier_, evidence_of(*foreign)), "snp.vlek_signature_invalid");
}

TEST_F(SnpMock, CertificateSourceSuppliesTheVcek) {
  MockSnpConfig config;
  config.include_leaf = false;
  const auto mock = attester(config);
  const Bytes evidence = evidence_of(*mock);
  EXPECT_EQ(outcome(*verifier_, evidence), "snp.certificate_missing");

  auto source = std::make_shared<snp::InMemoryCertificateSource>();
  snp::VcekQuery query;
  query.product = Product::Milan;
  query.chip_id = config.chip_id;
  query.reported_tcb = snp::decode_tcb(snp::encode_tcb(config.tcb, Product::Milan), Product::Milan);
  source->add(query, mock->leaf_der());
  const auto with_source = make_insecure_mock_snp_verifier(*pki(), source);
  EXPECT_EQ(outcome(*with_source, evidence), "ok");
}

class FailingSource final : public snp::CertificateSource {
 public:
  Result<Bytes> find_vcek(const snp::VcekQuery&) const override {
    return make_error_code(snp::Errc::InternalError);
  }
};

TEST_F(SnpMock, CertificateSourceErrorsPassThrough) {
  MockSnpConfig config;
  config.include_leaf = false;
  const auto verifier = make_insecure_mock_snp_verifier(*pki(), std::make_shared<FailingSource>());
  EXPECT_EQ(outcome(*verifier, evidence_of(*attester(config))), "snp.internal_error");
}

TEST_F(SnpMock, MaskedChipIdNeedsTheVcekInTheEvidence) {
  MockSnpConfig config;
  config.mask_chip_id = true;
  const auto mock = attester(config);
  const auto result =
      verifier_->verify_evidence(AttestationType::SevSnp, evidence_of(*mock), binding(1), kNow);
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_TRUE(result->snp->mask_chip_key);

  config.include_leaf = false;
  EXPECT_EQ(outcome(*verifier_, evidence_of(*attester(config))), "snp.chip_id_masked");
}

TEST_F(SnpMock, CpuidAndCertificateProductMustAgree) {
  MockSnpConfig genoa;
  genoa.product = Product::Genoa;
  const auto report = attester(genoa)->generate_report(binding(1));
  ASSERT_TRUE(report);
  const Bytes evidence = snp::encode_evidence(*report, table_of(evidence_of(*attester())));
  EXPECT_EQ(outcome(*verifier_, evidence), "snp.product_mismatch");
}

TEST_F(SnpMock, CertificateTcbMustEqualReportedTcb) {
  const auto mock = attester();
  const Bytes evidence = evidence_of(*mock);
  for (int component = 0; component < 4; ++component) {
    MockSnpLeafSpec spec;
    spec.hw_id = Bytes(mock->config().chip_id.begin(), mock->config().chip_id.end());
    spec.tcb = mock->config().tcb;
    std::uint8_t* fields[] = {&spec.tcb.bootloader, &spec.tcb.tee, &spec.tcb.snp,
                              &spec.tcb.microcode};
    *fields[component] = static_cast<std::uint8_t>(*fields[component] + 1);
    auto leaf = pki()->issue_leaf(spec);
    ASSERT_TRUE(leaf);
    auto table = table_of(evidence);
    table.entries[0].data = leaf->der;
    EXPECT_EQ(outcome(*verifier_, with_table(evidence, table)), "snp.tcb_mismatch") << component;
  }
}

TEST_F(SnpMock, LeafCertificateDefects) {
  const auto mock = attester();
  const Bytes evidence = evidence_of(*mock);
  const auto with_leaf = [&](const MockSnpLeafSpec& spec) {
    auto leaf = pki()->issue_leaf(spec);
    EXPECT_TRUE(leaf);
    auto table = table_of(evidence);
    table.entries[0].data = leaf ? leaf->der : Bytes{};
    return outcome(*verifier_, with_table(evidence, table));
  };
  MockSnpLeafSpec base;
  base.hw_id = Bytes(mock->config().chip_id.begin(), mock->config().chip_id.end());
  base.tcb = mock->config().tcb;

  auto spec = base;
  spec.omit_extension_oid = std::string(snp::amd_oid::kUcodeSpl);
  EXPECT_EQ(with_leaf(spec), "snp.certificate_extension_missing");
  spec = base;
  spec.omit_extension_oid = std::string(snp::amd_oid::kProductName);
  EXPECT_EQ(with_leaf(spec), "snp.certificate_extension_missing");
  spec = base;
  spec.product_name_override = "Venice-A0";
  EXPECT_EQ(with_leaf(spec), "snp.unknown_product");
  spec = base;
  spec.key_algorithm = tls::KeyAlgorithm::EcP256;
  EXPECT_EQ(with_leaf(spec), "snp.leaf_key_invalid");
  spec = base;
  spec.rsa_pss = false;  // signed by the right ASK, but with PKCS#1 v1.5
  EXPECT_EQ(with_leaf(spec), "snp.vcek_signature_invalid");
  spec = base;
  spec.omit_extension_oid = std::string(snp::amd_oid::kHwId);  // looks like a VLEK now
  EXPECT_EQ(with_leaf(spec), "snp.signer_mismatch");

  auto table = table_of(evidence);
  table.entries[0].data = Bytes{0x30, 0x00};
  EXPECT_EQ(outcome(*verifier_, with_table(evidence, table)), "snp.certificate_malformed");
}

TEST_F(SnpMock, CrlRevocation) {
  const auto mock = attester();
  const Bytes evidence = evidence_of(*mock);
  const SystemTime issued = kNow - std::chrono::hours(24);
  const SystemTime next = kNow + std::chrono::hours(24 * 30);

  const auto verifier_with = [&](std::vector<Bytes> crls) {
    auto options = pki()->insecure_verifier_options();
    options.crls = std::move(crls);
    return std::make_shared<const snp::SnpVerifier>(nullptr, std::move(options));
  };
  auto clean = pki()->issue_crl(false, false, issued, next);
  auto revoked_ask = pki()->issue_crl(true, false, issued, next);
  auto revoked_asvk = pki()->issue_crl(false, true, issued, next);
  auto foreign = other_pki()->issue_crl(false, false, issued, next);
  ASSERT_TRUE(clean && revoked_ask && revoked_asvk && foreign);

  EXPECT_EQ(outcome(*verifier_with({*clean}), evidence), "ok");
  EXPECT_EQ(outcome(*verifier_with({*revoked_asvk}), evidence), "ok");  // VCEK chain uses ASK
  EXPECT_EQ(outcome(*verifier_with({*revoked_ask}), evidence), "snp.certificate_revoked");
  EXPECT_EQ(outcome(*verifier_with({*clean}), evidence, binding(1), next + std::chrono::hours(1)),
            "snp.crl_expired");
  EXPECT_EQ(outcome(*verifier_with({*foreign}), evidence), "snp.crl_signature_invalid");
  EXPECT_EQ(outcome(*verifier_with({Bytes{1, 2, 3}}), evidence), "snp.crl_malformed");

  MockSnpConfig vlek;
  vlek.signer = Signer::Vlek;
  EXPECT_EQ(outcome(*verifier_with({*revoked_asvk}), evidence_of(*attester(vlek))),
            "snp.certificate_revoked");
}

TEST_F(SnpMock, CertificatesExpireWithTheMockValidity) {
  const auto mock = attester();
  EXPECT_EQ(outcome(*verifier_, evidence_of(*mock), binding(1),
                    mock_snp_not_after() + std::chrono::hours(48)),
            "snp.certificate_expired");
  EXPECT_EQ(outcome(*verifier_, evidence_of(*mock), binding(1),
                    mock_snp_not_before() - std::chrono::hours(48)),
            "snp.certificate_not_yet_valid");
}

TEST_F(SnpMock, BindingAndTypeChecks) {
  MockSnpConfig config;
  config.type = AttestationType::GcpSnp;
  const auto mock = attester(config);
  EXPECT_EQ(mock->type(), AttestationType::GcpSnp);
  const Bytes evidence = evidence_of(*mock, binding(9));
  EXPECT_EQ(outcome(*verifier_, evidence, binding(9), kNow, AttestationType::GcpSnp), "ok");
  EXPECT_EQ(outcome(*verifier_, evidence, binding(8), kNow, AttestationType::GcpSnp),
            "snp.report_data_mismatch");
  EXPECT_EQ(outcome(*verifier_, evidence, binding(9), kNow, AttestationType::AzureTdx),
            "snp.unsupported_attestation_type");
}

TEST_F(SnpMock, CacheEvictionAndConcurrentVerification) {
  auto options = pki()->insecure_verifier_options();
  options.chain_cache_capacity = 1;
  const snp::SnpVerifier small_cache(nullptr, options);
  MockSnpConfig second;
  second.chip_id.fill(0xc2);
  const Bytes first_evidence = evidence_of(*attester());
  const Bytes second_evidence = evidence_of(*attester(second));
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(outcome(small_cache, first_evidence), "ok");
    EXPECT_EQ(outcome(small_cache, second_evidence), "ok");
  }

  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (outcome(*verifier_, (t + i) % 2 == 0 ? first_evidence : second_evidence) != "ok") {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SnpMock, ConfigValidation) {
  MockSnpConfig config;
  config.report_version = 4;
  EXPECT_FALSE(MockSnpAttester::create(pki(), config));
  EXPECT_FALSE(MockSnpAttester::create(nullptr, {}));
}

}  // namespace
}  // namespace atls::attest::mock
