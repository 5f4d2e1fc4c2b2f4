// SEV-SNP appraisal policy: strict JSON parsing and evaluation of every rule, reporting every
// mismatch (src/policy/snp_policy.h).
#include "policy/snp_policy.h"

#include <gtest/gtest.h>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/evidence.h"
#include "attest/snp/snp_verifier.h"
#include "support/testdata.h"

namespace atls::policy {
namespace {

using attest::snp::Signer;
using attest::snp::SnpClaims;
using nlohmann::json;

std::string hex_of(std::size_t bytes, char digit) {
  return std::string(bytes * 2, digit);
}

std::string repeat(std::string_view text, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += text;
  }
  return out;
}

// A Milan guest: debug off, VMPL 0, TCB 3/0/8/115, guest SVN 2.
SnpClaims good_claims() {
  SnpClaims claims;
  claims.report_version = 3;
  claims.product = "Milan";
  claims.signer = Signer::Vcek;
  claims.guest_svn = 2;
  claims.policy = 0x30000;  // SMT allowed, reserved bit
  claims.vmpl = 0;
  claims.measurement.fill(0xaa);
  claims.host_data.fill(0xbb);
  claims.id_key_digest.fill(0xcc);
  claims.author_key_digest.fill(0xdd);
  claims.family_id.fill(0x01);
  claims.image_id.fill(0x02);
  claims.chip_id.fill(0xc1);
  claims.platform_info = 0;
  claims.reported_tcb = {0x7308000000000003, 3, 0, 8, 115, std::nullopt};
  return claims;
}

SnpPolicy parse_ok(const json& document) {
  auto policy = SnpPolicy::from_json(document, "test.json: record 1");
  EXPECT_TRUE(policy) << (policy ? "" : policy.error().describe());
  return policy ? std::move(*policy) : SnpPolicy{};
}

Failure parse_error(const json& document) {
  auto policy = SnpPolicy::from_json(document, "test.json: record 1");
  EXPECT_FALSE(policy) << document.dump();
  return policy ? Failure{} : policy.error();
}

std::vector<std::string> codes(const SnpEvaluation& evaluation) {
  std::vector<std::string> out;
  for (const auto& mismatch : evaluation.mismatches) {
    out.push_back(error_id(mismatch.code));
  }
  return out;
}

TEST(SnpPolicy, EmptyPolicyAcceptsANonDebugVmpl0Guest) {
  const SnpPolicy policy = parse_ok(json::object());
  const auto evaluation = policy.evaluate(good_claims());
  EXPECT_TRUE(evaluation.accepted()) << evaluation.describe();
  EXPECT_EQ(evaluation.describe(), "");
  EXPECT_EQ(policy.vmpls, std::vector<std::uint32_t>{0});
  EXPECT_FALSE(policy.allow_debug);
}

TEST(SnpPolicy, DebugIsForbiddenByDefault) {
  SnpClaims claims = good_claims();
  claims.policy |= attest::snp::guest_policy::kDebug;
  const auto evaluation = parse_ok(json::object()).evaluate(claims);
  EXPECT_EQ(codes(evaluation), std::vector<std::string>{"snp_policy.debug_not_allowed"});
  EXPECT_NE(evaluation.describe().find("allows debugging"), std::string::npos);
  EXPECT_TRUE(parse_ok(json{{"allow_debug", true}}).evaluate(claims).accepted());
}

TEST(SnpPolicy, GoSevGuestVectorIsRejectedForDebug) {
  // VECTORS.md §2: the go-sev-guest report verifies but its guest policy allows debugging.
  ATLS_REQUIRE_TESTDATA();
  using namespace attest::snp;  // NOLINT(google-build-using-namespace)
  const Bytes report_file =
      atls::testing::read_bytes(atls::testing::testdata_path("go-sev-guest/attestation.bin"));
  const std::string chain_pem =
      atls::testing::read_text(atls::testing::testdata_path("go-sev-guest/milan.testcer"));
  auto chain = parse_certificates_pem(chain_pem);
  ASSERT_TRUE(chain);
  CertTable table;
  table.entries.push_back({guids::vcek(), atls::testing::read_bytes(atls::testing::testdata_path(
                                              "go-sev-guest/vcek.testcer"))});
  table.entries.push_back({guids::ask(), certificate_der((*chain)[0].get())});
  const SnpVerifier verifier;
  const auto verified = verifier.verify_report(
      report_file, table, std::nullopt, std::chrono::sys_days(std::chrono::year(2024) / 1 / 1));
  ASSERT_TRUE(verified) << verified.error().describe();
  const auto evaluation = parse_ok(json::object()).evaluate(verified->claims);
  EXPECT_EQ(codes(evaluation), std::vector<std::string>{"snp_policy.debug_not_allowed"});
}

TEST(SnpPolicy, AllowlistsAcceptStringsOrArrays) {
  const json document{
      {"measurement", json::array({hex_of(48, '1'), hex_of(48, 'a')})},
      {"host_data", hex_of(32, 'b')},
      {"id_key_digest", json::array({hex_of(48, 'c')})},
      {"author_key_digest", hex_of(48, 'd')},
      {"family_id", repeat("01", 16)},
      {"image_id", repeat("02", 16)},
      {"chip_id", repeat("c1", 64)},
      {"product", json::array({"Milan", "Genoa"})},
      {"signer", "vcek"},
  };
  const SnpPolicy policy = parse_ok(document);
  EXPECT_EQ(policy.measurements.size(), 2U);
  EXPECT_EQ(policy.chip_ids.size(), 1U);
  const auto evaluation = policy.evaluate(good_claims());
  EXPECT_TRUE(evaluation.accepted()) << evaluation.describe();
}

TEST(SnpPolicy, EveryAllowlistRuleRejects) {
  const json document{
      {"measurement", hex_of(48, '1')},
      {"host_data", hex_of(32, '2')},
      {"id_key_digest", hex_of(48, '3')},
      {"author_key_digest", hex_of(48, '4')},
      {"family_id", hex_of(16, '5')},
      {"image_id", hex_of(16, '6')},
      {"chip_id", hex_of(64, '7')},
      {"product", "Turin"},
      {"signer", "vlek"},
  };
  const auto evaluation = parse_ok(document).evaluate(good_claims());
  const std::vector<std::string> expected{
      "snp_policy.measurement_not_allowed",   "snp_policy.host_data_not_allowed",
      "snp_policy.id_key_digest_not_allowed", "snp_policy.author_key_digest_not_allowed",
      "snp_policy.family_id_not_allowed",     "snp_policy.image_id_not_allowed",
      "snp_policy.chip_id_not_allowed",       "snp_policy.product_not_allowed",
      "snp_policy.signer_not_allowed",
  };
  EXPECT_EQ(codes(evaluation), expected);
  EXPECT_EQ(evaluation.mismatches[0].field, "measurement");
  EXPECT_NE(evaluation.mismatches[0].text.find("measurement is " + hex_of(48, 'a')),
            std::string::npos)
      << evaluation.mismatches[0].text;
  EXPECT_NE(evaluation.mismatches[0].text.find("(expected " + hex_of(48, '1') + ")"),
            std::string::npos);
}

TEST(SnpPolicy, TurinChipIdMayBeGivenAsEightBytes) {
  SnpClaims claims = good_claims();
  claims.product = "Turin";
  claims.chip_id.fill(0);
  claims.chip_id[0] = 0x1e;
  claims.chip_id[7] = 0x4d;
  const SnpPolicy policy = parse_ok(json{{"chip_id", "1e0000000000004d"}});
  EXPECT_TRUE(policy.evaluate(claims).accepted());
  claims.chip_id[7] = 0x4e;
  EXPECT_FALSE(policy.evaluate(claims).accepted());
}

TEST(SnpPolicy, MinimumTcbPerComponent) {
  const SnpPolicy policy =
      parse_ok(json{{"min_tcb", {{"bootloader", 3}, {"tee", 0}, {"snp", 8}, {"microcode", 115}}}});
  EXPECT_TRUE(policy.evaluate(good_claims()).accepted());

  SnpClaims old = good_claims();
  old.reported_tcb = {0, 2, 0, 5, 68, std::nullopt};
  const auto evaluation = policy.evaluate(old);
  EXPECT_EQ(codes(evaluation),
            (std::vector<std::string>{"snp_policy.tcb_too_low", "snp_policy.tcb_too_low",
                                      "snp_policy.tcb_too_low"}));
  EXPECT_EQ(evaluation.mismatches[0].field, "min_tcb.bootloader");
  EXPECT_EQ(evaluation.mismatches[2].text, "min_tcb.microcode: reported 68, minimum 115");

  // fmc applies only when the product has one.
  const SnpPolicy fmc = parse_ok(json{{"min_tcb", {{"fmc", 2}}}});
  EXPECT_TRUE(fmc.evaluate(good_claims()).accepted());
  SnpClaims turin = good_claims();
  turin.product = "Turin";
  turin.reported_tcb.fmc = 1;
  EXPECT_EQ(codes(fmc.evaluate(turin)), std::vector<std::string>{"snp_policy.tcb_too_low"});
  turin.reported_tcb.fmc = 2;
  EXPECT_TRUE(fmc.evaluate(turin).accepted());
}

TEST(SnpPolicy, GuestSvnVmplSmtAndMigrationAgent) {
  SnpClaims claims = good_claims();
  claims.vmpl = 2;
  claims.platform_info = attest::snp::platform_info::kSmtEnabled;
  claims.policy |= attest::snp::guest_policy::kMigrateMa;
  claims.guest_svn = 1;

  // Defaults: only VMPL 0; SMT and migration agent not checked.
  EXPECT_EQ(codes(parse_ok(json::object()).evaluate(claims)),
            std::vector<std::string>{"snp_policy.vmpl_not_allowed"});

  const SnpPolicy strict = parse_ok(json{{"min_guest_svn", 2},
                                         {"vmpl", json::array({0, 1})},
                                         {"allow_smt", false},
                                         {"allow_migration_agent", false}});
  const auto evaluation = strict.evaluate(claims);
  EXPECT_EQ(codes(evaluation),
            (std::vector<std::string>{"snp_policy.guest_svn_too_low", "snp_policy.vmpl_not_allowed",
                                      "snp_policy.smt_not_allowed",
                                      "snp_policy.migration_agent_not_allowed"}));
  EXPECT_EQ(evaluation.mismatches[1].text, "vmpl is 2 (allowed: 0, 1)");

  const SnpPolicy lenient = parse_ok(json{
      {"min_guest_svn", 1}, {"vmpl", 2}, {"allow_smt", true}, {"allow_migration_agent", true}});
  EXPECT_TRUE(lenient.evaluate(claims).accepted()) << lenient.evaluate(claims).describe();
}

TEST(SnpPolicy, AllMismatchesAreReportedTogether) {
  SnpClaims claims = good_claims();
  claims.policy |= attest::snp::guest_policy::kDebug;
  claims.vmpl = 3;
  const SnpPolicy policy = parse_ok(
      json{{"measurement", hex_of(48, '0')}, {"min_tcb", {{"snp", 9}}}, {"min_guest_svn", 5}});
  const auto evaluation = policy.evaluate(claims);
  EXPECT_EQ(evaluation.mismatches.size(), 5U) << evaluation.describe();
  const std::string text = evaluation.describe();
  for (const char* part : {"measurement is", "min_tcb.snp: reported 8, minimum 9",
                           "guest_svn is 2, minimum 5", "vmpl is 3", "allows debugging"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " in " << text;
  }
}

TEST(SnpPolicy, ParseErrorsNameTheField) {
  struct Case {
    json document;
    std::string code;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {json::array(), "snp_policy.not_an_object", "expected an object"},
      {json{{"measurment", hex_of(48, 'a')}}, "snp_policy.unknown_field", "field measurment"},
      {json{{"measurement", 5}}, "snp_policy.wrong_field_type", "field measurement"},
      {json{{"measurement", json::array({hex_of(48, 'a'), 7})}}, "snp_policy.wrong_field_type",
       "field measurement[1]"},
      {json{{"measurement", "0x" + hex_of(47, 'a')}}, "snp_policy.bad_hex", "0x prefix"},
      {json{{"measurement", "zz"}}, "snp_policy.bad_hex", "field measurement"},
      {json{{"measurement", hex_of(32, 'a')}}, "snp_policy.bad_length", "32 bytes, expected 48"},
      {json{{"host_data", json::array({hex_of(32, 'a'), hex_of(31, 'a')})}},
       "snp_policy.bad_length", "field host_data[1]"},
      {json{{"chip_id", hex_of(9, 'a')}}, "snp_policy.bad_length", "expected 64 or 8"},
      {json{{"measurement", json::array()}}, "snp_policy.empty_allowlist", "field measurement"},
      {json{{"vmpl", json::array()}}, "snp_policy.empty_allowlist", "field vmpl"},
      {json{{"vmpl", 4}}, "snp_policy.value_out_of_range", "field vmpl"},
      {json{{"vmpl", json::array({0, -1})}}, "snp_policy.value_out_of_range", "field vmpl[1]"},
      {json{{"vmpl", "0"}}, "snp_policy.wrong_field_type", "field vmpl"},
      {json{{"min_tcb", {{"snp", 256}}}}, "snp_policy.value_out_of_range", "field min_tcb.snp"},
      {json{{"min_tcb", {{"snp", 1.5}}}}, "snp_policy.wrong_field_type", "field min_tcb.snp"},
      {json{{"min_tcb", {{"spl4", 1}}}}, "snp_policy.unknown_field", "field min_tcb.spl4"},
      {json{{"min_tcb", 3}}, "snp_policy.wrong_field_type", "field min_tcb"},
      {json{{"min_guest_svn", 4294967296}}, "snp_policy.value_out_of_range", "min_guest_svn"},
      {json{{"min_guest_svn", true}}, "snp_policy.wrong_field_type", "min_guest_svn"},
      {json{{"allow_debug", "no"}}, "snp_policy.wrong_field_type", "field allow_debug"},
      {json{{"allow_smt", 0}}, "snp_policy.wrong_field_type", "field allow_smt"},
      {json{{"allow_migration_agent", nullptr}}, "snp_policy.wrong_field_type",
       "field allow_migration_agent"},
      {json{{"product", "milan"}}, "snp_policy.unknown_product", "field product"},
      {json{{"signer", json::array({"vcek", "ask"})}}, "snp_policy.unknown_signer", "field signer"},
  };
  for (const auto& c : cases) {
    const Failure failure = parse_error(c.document);
    EXPECT_EQ(error_id(failure.code), c.code) << c.document.dump();
    EXPECT_NE(failure.detail.find(c.detail), std::string::npos)
        << c.document.dump() << " -> " << failure.detail;
    EXPECT_TRUE(failure.detail.starts_with("test.json: record 1: ")) << failure.detail;
  }
}

}  // namespace
}  // namespace atls::policy
