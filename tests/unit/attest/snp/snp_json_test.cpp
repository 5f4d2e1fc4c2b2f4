// JSON renderings of SNP claims: the X-Flashbots-Measurement header and `verify --json`.
#include "attest/snp/snp_json.h"

#include <gtest/gtest.h>

namespace atls::attest::snp {
namespace {

std::string repeat(std::string_view text, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += text;
  }
  return out;
}

SnpClaims sample_claims() {
  SnpClaims claims;
  claims.report_version = 3;
  claims.product = "Turin";
  claims.signer = Signer::Vlek;
  claims.guest_svn = 4;
  claims.policy = 0xb0000;
  claims.vmpl = 1;
  claims.measurement.fill(0xab);
  claims.host_data.fill(0x01);
  claims.id_key_digest.fill(0x02);
  claims.family_id.fill(0x03);
  claims.image_id.fill(0x04);
  claims.chip_id[0] = 0xc1;
  claims.platform_info = 0x25;
  claims.reported_tcb = {0x0900000004030201, 2, 3, 4, 9, std::uint8_t{1}};
  claims.current_firmware = {1, 55, 39};
  claims.cpuid = Cpuid{0x1A, 0x02, 0x00};
  claims.launch_mit_vector = 3;
  return claims;
}

TEST(SnpJson, MeasurementHeaderIsCompactSortedHex) {
  const std::string header = measurement_header_json(sample_claims());
  EXPECT_EQ(header.find(' '), std::string::npos);
  const auto parsed = nlohmann::json::parse(header);
  ASSERT_EQ(parsed.size(), 10U);
  EXPECT_EQ(parsed["measurement"], repeat("ab", 48));
  EXPECT_EQ(parsed["host_data"], repeat("01", 32));
  EXPECT_EQ(parsed["id_key_digest"], repeat("02", 48));
  EXPECT_EQ(parsed["image_id"], repeat("04", 16));
  EXPECT_EQ(parsed["guest_svn"], "00000004");
  EXPECT_EQ(parsed["vmpl"], "00000001");
  EXPECT_EQ(parsed["policy"], "00000000000b0000");
  EXPECT_EQ(parsed["reported_tcb"], "0900000004030201");
  EXPECT_EQ(parsed["chip_id"].get<std::string>().size(), 128U);
  EXPECT_EQ(parsed["chip_id"].get<std::string>().substr(0, 4), "c100");
  EXPECT_EQ(parsed["family_id"], "03030303030303030303030303030303");
  // Keys in lexicographic order, so the text is deterministic.
  EXPECT_EQ(header.substr(0, 13), "{\"chip_id\":\"c");
}

TEST(SnpJson, VerifyJsonDecodesPolicyAndTcb) {
  const nlohmann::json out = verify_json(sample_claims());
  EXPECT_EQ(out["product"], "Turin");
  EXPECT_EQ(out["signer"], "vlek");
  EXPECT_EQ(out["report_version"], 3);
  EXPECT_EQ(out["vmpl"], 1);
  EXPECT_EQ(out["policy"]["raw"], "0x00000000000b0000");
  EXPECT_EQ(out["policy"]["debug"], true);
  EXPECT_EQ(out["policy"]["smt"], true);
  EXPECT_EQ(out["policy"]["migrate_ma"], false);
  EXPECT_EQ(out["policy"]["abi_major"], 0);
  EXPECT_EQ(out["platform_info"]["smt_enabled"], true);
  EXPECT_EQ(out["platform_info"]["ecc_enabled"], true);
  EXPECT_EQ(out["platform_info"]["alias_check_complete"], true);
  EXPECT_EQ(out["reported_tcb"]["fmc"], 1);
  EXPECT_EQ(out["reported_tcb"]["microcode"], 9);
  EXPECT_EQ(out["reported_tcb"]["raw"], "0900000004030201");
  EXPECT_EQ(out["current_firmware"], "1.55.39");
  EXPECT_EQ(out["cpuid"]["family"], 0x1A);
  EXPECT_EQ(out["launch_mit_vector"], "0x0000000000000003");
  EXPECT_FALSE(out.contains("current_mit_vector"));
  EXPECT_FALSE(out["current_tcb"].contains("fmc"));
}

TEST(SnpJson, GuestPolicyBits) {
  const auto policy = guest_policy_json(0x3ff0102);
  EXPECT_EQ(policy["abi_major"], 1);
  EXPECT_EQ(policy["abi_minor"], 2);
  for (const char* bit :
       {"smt", "migrate_ma", "debug", "single_socket", "cxl_allowed", "mem_aes_256_xts",
        "rapl_disable", "ciphertext_hiding", "page_swap_disable"}) {
    EXPECT_EQ(policy[bit], true) << bit;
  }
}

}  // namespace
}  // namespace atls::attest::snp
