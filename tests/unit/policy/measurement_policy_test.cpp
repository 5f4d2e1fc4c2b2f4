// Measurement policy files (interop spec §6) and their stricter-than-flashbots validation.
#include "policy/measurement_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json.h"
#include "policy/errors.h"
#include "support/testdata.h"

namespace atls::policy {
namespace {

using attest::AttestationType;
using attest::VerifiedClaims;

std::string read_data(const std::string& name) {
  return testing::read_text(testing::testdata_path("flashbots/attestation-test-assets/" + name));
}

Bytes filled(std::size_t size, std::uint8_t value) {
  return Bytes(size, value);
}

VerifiedClaims dcap_claims(AttestationType type, std::array<Bytes, 5> registers) {
  VerifiedClaims claims;
  claims.type = type;
  for (unsigned i = 0; i < 5; ++i) {
    claims.measurements[i] = registers[i];
  }
  return claims;
}

VerifiedClaims zero_dcap(AttestationType type = AttestationType::DcapTdx) {
  return dcap_claims(type,
                     {filled(48, 0), filled(48, 0), filled(48, 0), filled(48, 0), filled(48, 0)});
}

VerifiedClaims azure_claims(std::map<unsigned, Bytes> pcrs) {
  VerifiedClaims claims;
  claims.type = AttestationType::AzureTdx;
  claims.measurements = std::move(pcrs);
  return claims;
}

MeasurementPolicy parse_ok(std::string_view text) {
  auto policy = MeasurementPolicy::parse(text, "test.json");
  EXPECT_TRUE(policy) << (policy ? "" : policy.error().describe());
  return policy ? std::move(*policy) : MeasurementPolicy{};
}

Failure parse_error(std::string_view text) {
  auto policy = MeasurementPolicy::parse(text, "test.json");
  EXPECT_FALSE(policy) << text;
  return policy ? Failure{} : policy.error();
}

std::string hex_of(std::size_t size, char digit) {
  return std::string(size * 2, digit);
}

TEST(MeasurementPolicy, ReadsFlashbotsMeasurementsFile) {
  // flashbots test_read_measurements_file.
  ATLS_REQUIRE_TESTDATA();
  const auto policy = parse_ok(read_data("measurements.json"));
  ASSERT_EQ(policy.records().size(), 3U);
  EXPECT_EQ(policy.records()[0].type, AttestationType::AzureTdx);
  EXPECT_EQ(policy.records()[0].measurement_id, "azure-tdx-example-01");
  ASSERT_EQ(policy.records()[0].rules.size(), 3U);
  EXPECT_EQ(policy.records()[0].rules[0].index, 4U);
  EXPECT_EQ(policy.records()[0].rules[1].index, 9U);
  EXPECT_EQ(policy.records()[0].rules[2].index, 11U);
  EXPECT_EQ(policy.records()[1].rules.size(), 2U);
  EXPECT_EQ(policy.records()[2].type, AttestationType::DcapTdx);
  EXPECT_EQ(policy.records()[2].rules.size(), 5U);
  EXPECT_EQ(to_hex(policy.records()[2].rules[0].accepted[0]).substr(0, 8), "47a1cc07");

  EXPECT_FALSE(policy.accepts_none());
  EXPECT_FALSE(policy.evaluate(zero_dcap()).matched);       // mock (all-zero) measurements
  EXPECT_FALSE(policy.evaluate(azure_claims({})).matched);  // Azure set with no PCRs
}

TEST(MeasurementPolicy, AcceptsTheMatchingDcapRecord) {
  ATLS_REQUIRE_TESTDATA();
  const auto policy = parse_ok(read_data("measurements.json"));
  const auto& record = policy.records()[2];
  std::array<Bytes, 5> registers;
  for (const auto& rule : record.rules) {
    registers[rule.index] = rule.accepted[0];
  }
  const auto evaluation = policy.evaluate(dcap_claims(AttestationType::DcapTdx, registers));
  ASSERT_TRUE(evaluation.matched);
  EXPECT_EQ(*evaluation.matched, 2U);
  // The record's type only selects the family (§6.4): gcp-tdx and qemu-tdx quotes match too.
  EXPECT_TRUE(policy.evaluate(dcap_claims(AttestationType::GcpTdx, registers)).matched);
  EXPECT_TRUE(policy.evaluate(dcap_claims(AttestationType::QemuTdx, registers)).matched);
}

TEST(MeasurementPolicy, AzureRecordsMatchOnListedPcrsOnly) {
  ATLS_REQUIRE_TESTDATA();
  const auto policy = parse_ok(read_data("measurements.json"));
  std::map<unsigned, Bytes> pcrs;
  for (unsigned i = 0; i < 24; ++i) {
    pcrs[i] = filled(32, 0xee);
  }
  pcrs[4] = from_hex("1b8cd655f5ebdf50bedabfb5db6b896a0a7c56de54f318103a2de1e7cea57b6b").value();
  pcrs[9] = from_hex("992465f922102234c196f596fdaba86ea16eaa4c264dc425ec26bc2d1c364472").value();
  const auto evaluation = policy.evaluate(azure_claims(pcrs));
  ASSERT_TRUE(evaluation.matched);
  EXPECT_EQ(*evaluation.matched, 1U);
}

TEST(MeasurementPolicy, RecordWithoutMeasurementsAcceptsAnyOfItsFamily) {
  // flashbots test_read_measurements_file_non_specific.
  ATLS_REQUIRE_TESTDATA();
  const auto policy = parse_ok(read_data("measurements_2.json"));
  ASSERT_EQ(policy.records().size(), 1U);
  EXPECT_TRUE(policy.evaluate(zero_dcap()).matched);
  EXPECT_TRUE(policy.evaluate(zero_dcap(AttestationType::GcpTdx)).matched);
  EXPECT_FALSE(policy.accepts_none());
  EXPECT_FALSE(policy.evaluate(azure_claims({{4, filled(32, 1)}})).matched);
}

TEST(MeasurementPolicy, ReadsBuildernetSnapshot) {
  ATLS_REQUIRE_TESTDATA();
  const auto policy = parse_ok(read_data("buildernet_measurements.json"));
  EXPECT_EQ(policy.records().size(), 23U);
  std::size_t azure = 0;
  std::size_t expected_any = 0;
  for (const auto& record : policy.records()) {
    azure += record.type == AttestationType::AzureTdx ? 1 : 0;
    for (const auto& rule : record.rules) {
      expected_any += rule.accepted.size() > 1 ? 1 : 0;
    }
  }
  EXPECT_EQ(azure, 14U);
  EXPECT_GT(expected_any, 0U);
  EXPECT_FALSE(policy.accepts_none());
  EXPECT_FALSE(policy.evaluate(azure_claims({})).matched);
}

TEST(MeasurementPolicy, ExpectedAnyIsOrWithinAndAcrossRegisters) {
  // test_check_measurement_with_or_semantics / test_mixed_expected_and_expected_any...
  const std::string text = R"([{"attestation_type":"dcap-tdx","measurements":{
      "0":{"expected_any":[")" +
                           hex_of(48, '1') + R"(",")" + hex_of(48, '2') + R"("]},
      "1":{"expected":")" + hex_of(48, '3') +
                           R"("}}}])";
  const auto policy = parse_ok(text);
  auto claims = zero_dcap();
  claims.measurements[1] = filled(48, 0x33);
  claims.measurements[0] = filled(48, 0x11);
  EXPECT_TRUE(policy.evaluate(claims).matched);
  claims.measurements[0] = filled(48, 0x22);
  EXPECT_TRUE(policy.evaluate(claims).matched);
  claims.measurements[0] = filled(48, 0x44);
  EXPECT_FALSE(policy.evaluate(claims).matched);
  claims.measurements[0] = filled(48, 0x11);
  claims.measurements[1] = filled(48, 0x44);
  EXPECT_FALSE(policy.evaluate(claims).matched);
}

TEST(MeasurementPolicy, NamedRegistersAreCaseInsensitive) {
  const std::string text = R"([{"attestation_type":"dcap-tdx","measurements":{
      "MRTD":{"expected":")" +
                           hex_of(48, '1') + R"("},
      "Rtmr0":{"expected":")" +
                           hex_of(48, '2') + R"("},
      "3":{"expected":")" + hex_of(48, '4') +
                           R"("},
      "rtmr3":{"expected":")" +
                           hex_of(48, '5') + R"("}}},
      {"attestation_type":"azure-tdx","measurements":{
      "PCR4":{"expected":")" +
                           hex_of(32, 'a') + R"("},
      "pcr11":{"expected":")" +
                           hex_of(32, 'b') + R"("},
      "9":{"expected":")" + hex_of(32, 'c') +
                           R"("}}}])";
  const auto policy = parse_ok(text);
  ASSERT_EQ(policy.records().size(), 2U);
  std::vector<unsigned> dcap;
  for (const auto& rule : policy.records()[0].rules) {
    dcap.push_back(rule.index);
  }
  EXPECT_EQ(dcap, (std::vector<unsigned>{0, 1, 3, 4}));
  std::vector<unsigned> azure;
  for (const auto& rule : policy.records()[1].rules) {
    azure.push_back(rule.index);
  }
  EXPECT_EQ(azure, (std::vector<unsigned>{4, 9, 11}));
}

TEST(MeasurementPolicy, SingleObjectIsAcceptedAsOneRecord) {
  const auto policy = parse_ok(R"({"attestation_type":"none"})");
  ASSERT_EQ(policy.records().size(), 1U);
  EXPECT_TRUE(policy.accepts_none());
}

TEST(MeasurementPolicy, NullOptionalFieldsAreAbsent) {
  const auto policy =
      parse_ok(R"([{"measurement_id":null,"attestation_type":"gcp-tdx","measurements":null}])");
  EXPECT_TRUE(policy.evaluate(zero_dcap(AttestationType::QemuTdx)).matched);
}

struct BadPolicy {
  std::string text;
  std::string error_id;
  std::string detail_fragment;
};

TEST(MeasurementPolicy, RejectsMalformedPoliciesWithNamedErrors) {
  const std::string h48 = hex_of(48, 'a');
  const std::string h32 = hex_of(32, 'a');
  const BadPolicy cases[] = {
      {"", "json.syntax", "test.json"},
      {"[", "json.syntax", ""},
      {"[]", "policy.empty_policy", ""},
      {"\"dcap-tdx\"", "policy.not_a_list_of_records", "got string"},
      {"[42]", "policy.record_not_object", "record 1"},
      {R"([{"measurements":{}}])", "policy.missing_attestation_type", "record 1"},
      {R"([{"attestation_type":"DCAP-TDX"}])", "policy.unknown_attestation_type", "DCAP-TDX"},
      {R"([{"attestation_type":"sgx"}])", "policy.unknown_attestation_type", "\"sgx\""},
      {R"([{"attestation_type":4}])", "policy.wrong_field_type", "attestation_type"},
      {R"([{"attestation_type":"none"},{"measurement_id":"x","attestation_type":"dcap-tdx",
          "measurments":{}}])",
       "policy.unknown_field", "record 2 (\"x\"): field measurments"},
      {R"([{"attestation_type":"gcp-tdx","dcap_image_hashes":{}}])",
       "policy.unsupported_record_form", "dcap_image_hashes"},
      {R"([{"kind":"azure","pcr4":"00"}])", "policy.unsupported_record_form", "kind"},
      {R"([{"attestation_type":"none","measurements":{"0":{"expected":")" + h48 + R"("}}}])",
       "policy.measurements_on_none_record", ""},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"5":{"expected":")" + h48 + R"("}}}])",
       "policy.bad_register_index", "measurements.5"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"rtmr4":{"expected":")" + h48 +
           R"("}}}])",
       "policy.bad_register_index", "rtmr4"},
      {R"([{"attestation_type":"azure-tdx","measurements":{"pcr24":{"expected":")" + h32 +
           R"("}}}])",
       "policy.bad_register_index", "pcr24"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"pcr1":{"expected":")" + h48 + R"("}}}])",
       "policy.bad_register_key", "pcr1"},
      {R"([{"attestation_type":"azure-tdx","measurements":{"mrtd":{"expected":")" + h32 +
           R"("}}}])",
       "policy.bad_register_key", "mrtd"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"-1":{"expected":")" + h48 + R"("}}}])",
       "policy.bad_register_key", ""},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":")" + h48 +
           R"("},"mrtd":{"expected":")" + h48 + R"("}}}])",
       "policy.duplicate_register", "mrtd"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":")" + h48 +
           R"(","expected_any":[")" + h48 + R"("]}}}])",
       "policy.both_expected_and_expected_any", "measurements.0"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{}}}])", "policy.no_expected_value",
       "measurements.0"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected_any":[]}}}])",
       "policy.empty_expected_any", "measurements.0.expected_any"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":"zz"}}}])",
       "policy.bad_hex", "measurements.0.expected"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":"0x)" + h48 + R"("}}}])",
       "policy.bad_hex", "0x prefix"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":")" + h32 + R"("}}}])",
       "policy.bad_length", "32 bytes, expected 48"},
      {R"([{"attestation_type":"azure-tdx","measurements":{"4":{"expected":")" + h48 + R"("}}}])",
       "policy.bad_length", "48 bytes, expected 32"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected_any":[")" + h48 +
           R"(","aa"]}}}])",
       "policy.bad_length", "expected_any[1]"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":")" + h48 +
           R"(","note":"x"}}}])",
       "policy.unknown_field", "measurements.0.note"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected":1}}}])",
       "policy.wrong_field_type", "hex string"},
      {R"([{"attestation_type":"dcap-tdx","measurements":{"0":{"expected_any":"aa"}}}])",
       "policy.wrong_field_type", "expected an array"},
      {R"([{"attestation_type":"dcap-tdx","measurements":[]}])", "policy.wrong_field_type",
       "measurements"},
      {R"([{"attestation_type":"dcap-tdx","attestation_type":"none"}])", "json.duplicate_key",
       "attestation_type"},
      {R"([{"measurement_id":7,"attestation_type":"none"}])", "policy.wrong_field_type",
       "measurement_id"},
  };
  for (const auto& c : cases) {
    const Failure failure = parse_error(c.text);
    EXPECT_EQ(error_id(failure.code), c.error_id) << c.text;
    EXPECT_NE(failure.detail.find(c.detail_fragment), std::string::npos)
        << failure.detail << " / " << c.text;
    EXPECT_NE(failure.detail.find("test.json"), std::string::npos) << failure.detail;
  }
}

TEST(MeasurementPolicy, DeepNestingIsRejected) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(error_id(parse_error(deep).code), "json.too_deep");
}

TEST(MeasurementPolicy, AllowedTypeFromCli) {
  auto none = MeasurementPolicy::from_allowed_type("none");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->accepts_none());
  EXPECT_FALSE(none->evaluate(zero_dcap()).matched);

  auto tdx = MeasurementPolicy::from_allowed_type("TDX");  // lower-cased first (§6.3)
  ASSERT_TRUE(tdx);
  EXPECT_FALSE(tdx->accepts_none());
  EXPECT_TRUE(tdx->evaluate(zero_dcap()).matched);
  EXPECT_TRUE(tdx->evaluate(azure_claims({{4, filled(32, 1)}})).matched);

  auto dcap = MeasurementPolicy::from_allowed_type("Dcap-Tdx");
  ASSERT_TRUE(dcap);
  EXPECT_TRUE(dcap->evaluate(zero_dcap(AttestationType::GcpTdx)).matched);
  EXPECT_FALSE(dcap->evaluate(azure_claims({})).matched);

  auto bad = MeasurementPolicy::from_allowed_type("auto");
  ASSERT_FALSE(bad);
  EXPECT_EQ(error_id(bad.error().code), "policy.invalid_allowed_type");
}

TEST(MeasurementPolicy, MismatchReportListsEveryRegisterOfEveryCandidate) {
  const std::string text = R"([
    {"measurement_id":"a","attestation_type":"dcap-tdx","measurements":{
      "mrtd":{"expected":")" +
                           hex_of(48, '1') + R"("},
      "rtmr1":{"expected":")" +
                           hex_of(48, '2') + R"("}}},
    {"attestation_type":"azure-tdx","measurements":{"4":{"expected":")" +
                           hex_of(32, '3') + R"("}}},
    {"measurement_id":"b","attestation_type":"qemu-tdx","measurements":{
      "rtmr3":{"expected_any":[")" +
                           hex_of(48, '4') + R"(",")" + hex_of(48, '5') + R"("]}}}])";
  const auto policy = parse_ok(text);
  const auto claims = zero_dcap();
  const auto evaluation = policy.evaluate(claims);
  ASSERT_FALSE(evaluation.matched);
  ASSERT_EQ(evaluation.mismatches.size(), 2U);  // the Azure record is not a candidate
  EXPECT_EQ(evaluation.mismatches[0].registers.size(), 2U);
  EXPECT_EQ(evaluation.mismatches[1].registers.size(), 1U);
  const std::string description = policy.describe(evaluation, claims);
  EXPECT_NE(description.find("record 1 (\"a\"): mrtd is 0000"), std::string::npos) << description;
  EXPECT_NE(description.find("rtmr1 is 0000"), std::string::npos) << description;
  EXPECT_NE(description.find("record 3 (\"b\"): rtmr3"), std::string::npos) << description;
  EXPECT_NE(description.find("4444444444444444… | 5555555555555555…"), std::string::npos)
      << description;
  EXPECT_EQ(description.find("record 2"), std::string::npos) << description;
}

TEST(MeasurementPolicy, MissingRegisterInEvidenceIsAMismatch) {
  const auto policy = parse_ok(R"([{"attestation_type":"azure-tdx","measurements":{
      "pcr4":{"expected":")" + hex_of(32, '0') +
                               R"("}}}])");
  const auto claims = azure_claims({{9, filled(32, 0)}});
  const auto evaluation = policy.evaluate(claims);
  ASSERT_FALSE(evaluation.matched);
  EXPECT_NE(policy.describe(evaluation, claims).find("pcr4 is absent"), std::string::npos);
}

}  // namespace
}  // namespace atls::policy

namespace atls::policy {
namespace {

attest::VerifiedClaims snp_claims(std::uint8_t measurement_byte, std::uint64_t guest_policy) {
  attest::VerifiedClaims claims;
  claims.type = attest::AttestationType::SevSnp;
  attest::snp::SnpClaims snp;
  snp.measurement.fill(measurement_byte);
  snp.policy = guest_policy;
  snp.vmpl = 0;
  claims.snp = snp;
  return claims;
}

TEST(MeasurementPolicySnp, RecordsTakeAnSnpObjectWithSecureDefaults) {
  const std::string hex_a(96, 'a');
  const std::string text = R"([{"measurement_id":"snp-prod","attestation_type":"sev-snp",
      "snp":{"measurement":[")" +
                           hex_a + R"("]}}])";
  auto policy = MeasurementPolicy::parse(text, "snp.json");
  ASSERT_TRUE(policy) << policy.error().describe();
  EXPECT_TRUE(policy->has_family(attest::Family::Snp));
  constexpr std::uint64_t kNoDebug = 0x30000;
  constexpr std::uint64_t kDebug = 0xb0000;
  EXPECT_TRUE(policy->evaluate(snp_claims(0xaa, kNoDebug)).matched);
  // gcp-snp evidence is the same family.
  auto gcp = snp_claims(0xaa, kNoDebug);
  gcp.type = attest::AttestationType::GcpSnp;
  EXPECT_TRUE(policy->evaluate(gcp).matched);
  // Every failing rule is reported.
  const auto claims = snp_claims(0xbb, kDebug);
  const auto evaluation = policy->evaluate(claims);
  ASSERT_FALSE(evaluation.matched);
  ASSERT_EQ(evaluation.mismatches.size(), 1U);
  EXPECT_EQ(evaluation.mismatches[0].snp.size(), 2U);
  const std::string described = policy->describe(evaluation, claims);
  EXPECT_NE(described.find("record 1 (\"snp-prod\")"), std::string::npos) << described;
  EXPECT_NE(described.find("debug"), std::string::npos) << described;
  // DCAP claims never match an SNP record.
  attest::VerifiedClaims dcap;
  dcap.type = attest::AttestationType::DcapTdx;
  EXPECT_FALSE(policy->evaluate(dcap).matched);
}

TEST(MeasurementPolicySnp, BareRecordAndAllowedTypeUseSecureDefaults) {
  auto bare = MeasurementPolicy::parse(R"([{"attestation_type":"sev-snp"}])", "bare");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->evaluate(snp_claims(1, 0x30000)).matched);
  EXPECT_FALSE(bare->evaluate(snp_claims(1, 0xb0000)).matched);  // debug forbidden by default
  auto allowed = MeasurementPolicy::from_allowed_type("SEV-SNP");
  ASSERT_TRUE(allowed);
  EXPECT_FALSE(allowed->evaluate(snp_claims(1, 0xb0000)).matched);
}

TEST(MeasurementPolicySnp, MisplacedOrBadSnpRulesAreLoadErrors) {
  auto registers = MeasurementPolicy::parse(
      R"([{"attestation_type":"sev-snp","measurements":{"0":{"expected":"00"}}}])", "f");
  ASSERT_FALSE(registers);
  EXPECT_EQ(registers.error().code, make_error_code(Errc::UnsupportedRecordForm));
  auto on_tdx = MeasurementPolicy::parse(R"([{"attestation_type":"dcap-tdx","snp":{}}])", "f");
  ASSERT_FALSE(on_tdx);
  EXPECT_EQ(on_tdx.error().code, make_error_code(Errc::UnsupportedRecordForm));
  auto typo = MeasurementPolicy::parse(
      R"([{"attestation_type":"sev-snp","snp":{"allow_debugg":true}}])", "typo.json");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().code, make_error_code(SnpPolicyErrc::UnknownField));
  EXPECT_NE(typo.error().detail.find("typo.json: record 1"), std::string::npos)
      << typo.error().detail;
}

}  // namespace
}  // namespace atls::policy
