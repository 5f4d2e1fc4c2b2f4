// ATTESTATION_REPORT parsing: versions, reserved fields, signing-key field, product detection
// and per-product TCB_VERSION decoding (SEV-SNP ABI spec; docs/verification.md §2.1).
#include "attest/snp/report.h"

#include <gtest/gtest.h>

#include "attest/snp/errors.h"
#include "attest/snp/little_endian.h"

namespace atls::attest::snp {
namespace {

using detail::store_le32;
using detail::store_le64;

// A structurally valid (unsigned) report of `version`: algorithm 1, policy bit 17, Milan CPUID
// for v3+.
Bytes minimal_report(std::uint32_t version) {
  Bytes report(kReportSize, 0);
  store_le32(report.data(), version);
  store_le64(report.data() + 0x08, guest_policy::kReservedMustBeOne);
  store_le32(report.data() + 0x34, 1);
  if (version >= 3) {
    report[0x188] = 0x19;
    report[0x189] = 0x01;
    report[0x18A] = 0x01;
  }
  return report;
}

std::string parse_error(const Bytes& report) {
  const auto parsed = parse_report(report);
  return parsed ? "ok" : error_id(parsed.error());
}

TEST(SnpReport, AcceptsVersions2To5) {
  for (const std::uint32_t version : {2U, 3U, 4U, 5U}) {
    const auto parsed = parse_report(minimal_report(version));
    ASSERT_TRUE(parsed) << version;
    EXPECT_EQ(parsed->claims.report_version, version);
    EXPECT_EQ(parsed->claims.cpuid.has_value(), version >= 3);
    EXPECT_EQ(parsed->cpuid_product.has_value(), version >= 3);
    EXPECT_EQ(parsed->claims.launch_mit_vector.has_value(), version >= 5);
  }
  for (const std::uint32_t version : {0U, 1U, 6U, 0x02000000U}) {
    EXPECT_EQ(parse_error(minimal_report(version)), "snp.unsupported_report_version") << version;
  }
}

TEST(SnpReport, TruncationAtEveryLengthIsNamed) {
  const Bytes report = minimal_report(3);
  for (std::size_t length = 0; length < kReportSize; ++length) {
    const auto parsed = parse_report(ByteView(report).first(length));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(error_id(parsed.error()), "snp.report_truncated") << length;
  }
  Bytes longer = report;
  longer.push_back(0);
  EXPECT_EQ(parse_error(longer), "snp.report_trailing_bytes");
}

TEST(SnpReport, RequiresEcdsaP384Sha384) {
  for (const std::uint32_t algorithm : {0U, 2U, 0xffffffffU}) {
    Bytes report = minimal_report(2);
    store_le32(report.data() + 0x34, algorithm);
    EXPECT_EQ(parse_error(report), "snp.unsupported_signature_algorithm") << algorithm;
  }
}

TEST(SnpReport, GuestPolicyReservedBits) {
  Bytes report = minimal_report(2);
  store_le64(report.data() + 0x08, 0x10000);  // bit 17 clear
  EXPECT_EQ(parse_error(report), "snp.invalid_guest_policy");
  for (unsigned bit = 26; bit < 64; ++bit) {
    store_le64(report.data() + 0x08, guest_policy::kReservedMustBeOne | (1ULL << bit));
    EXPECT_EQ(parse_error(report), "snp.invalid_guest_policy") << bit;
  }
  store_le64(report.data() + 0x08, 0x3ff0000);  // every defined bit
  EXPECT_EQ(parse_error(report), "ok");
}

TEST(SnpReport, SigningKeyField) {
  Bytes report = minimal_report(2);
  store_le32(report.data() + 0x48, 1U << 2);
  auto parsed = parse_report(report);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->claims.signer, Signer::Vlek);
  for (std::uint32_t key = 2; key <= 6; ++key) {
    store_le32(report.data() + 0x48, key << 2);
    EXPECT_EQ(parse_error(report), "snp.invalid_signing_key") << key;
  }
  store_le32(report.data() + 0x48, 7U << 2);
  EXPECT_EQ(parse_error(report), "snp.report_not_signed");
  store_le32(report.data() + 0x48, 1U << 5);
  EXPECT_EQ(parse_error(report), "snp.report_reserved_nonzero");
  store_le32(report.data() + 0x48, 3);  // AUTHOR_KEY_EN, MASK_CHIP_KEY
  parsed = parse_report(report);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->claims.author_key_en);
  EXPECT_TRUE(parsed->claims.mask_chip_key);
  report[0x1A0] = 1;  // MASK_CHIP_KEY promises a zero CHIP_ID
  EXPECT_EQ(parse_error(report), "snp.report_reserved_nonzero");
}

TEST(SnpReport, ReservedRangesMustBeZero) {
  struct Case {
    std::uint32_t version;
    std::size_t offset;
  };
  const Case cases[] = {
      {2, 0x04C}, {2, 0x04F}, {2, 0x188}, {2, 0x18A}, {3, 0x18B},
      {3, 0x19F}, {2, 0x1EB}, {2, 0x1EF}, {2, 0x1F8}, {3, 0x207},
      {4, 0x208}, {5, 0x208}, {5, 0x29F}, {2, 0x330}, {5, 0x49F},
  };
  for (const auto& c : cases) {
    Bytes report = minimal_report(c.version);
    report[c.offset] = 0x01;
    EXPECT_EQ(parse_error(report), "snp.report_reserved_nonzero")
        << "v" << c.version << " offset 0x" << std::hex << c.offset;
  }
  // v4 keeps its 0x1F8–0x207 contents (not public) neither checked nor exposed; v5 exposes them.
  Bytes v4 = minimal_report(4);
  v4[0x1F8] = 1;
  EXPECT_EQ(parse_error(v4), "ok");
  Bytes v5 = minimal_report(5);
  store_le64(v5.data() + 0x1F8, 0x11);
  store_le64(v5.data() + 0x200, 0x22);
  const auto parsed = parse_report(v5);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->claims.launch_mit_vector, std::optional<std::uint64_t>(0x11));
  EXPECT_EQ(parsed->claims.current_mit_vector, std::optional<std::uint64_t>(0x22));
}

TEST(SnpReport, FieldsLandInTheClaims) {
  Bytes report = minimal_report(3);
  store_le32(report.data() + 0x04, 9);
  store_le32(report.data() + 0x30, 2);
  store_le64(report.data() + 0x40, 0x25);
  report[0x50] = 0xaa;
  report[0x90] = 0xbb;
  report[0xC0] = 0xcc;
  report[0xE0] = 0xdd;
  report[0x110] = 0xee;
  report[0x140] = 0x11;
  report[0x160] = 0x22;
  store_le64(report.data() + 0x180, 0xd318000000000004);
  report[0x1A0] = 0x33;
  report[0x1E8] = 7;  // build
  report[0x1E9] = 55;
  report[0x1EA] = 1;
  report[0x2A0] = 0x44;
  report[0x2E8] = 0x55;
  const auto parsed = parse_report(report);
  ASSERT_TRUE(parsed);
  const SnpClaims& claims = parsed->claims;
  EXPECT_EQ(claims.guest_svn, 9U);
  EXPECT_EQ(claims.vmpl, 2U);
  EXPECT_EQ(claims.platform_info, 0x25U);
  EXPECT_EQ(parsed->report_data[0], 0xaa);
  EXPECT_EQ(claims.measurement[0], 0xbb);
  EXPECT_EQ(claims.host_data[0], 0xcc);
  EXPECT_EQ(claims.id_key_digest[0], 0xdd);
  EXPECT_EQ(claims.author_key_digest[0], 0xee);
  EXPECT_EQ(claims.report_id[0], 0x11);
  EXPECT_EQ(claims.report_id_ma[0], 0x22);
  EXPECT_EQ(claims.reported_tcb.raw, 0xd318000000000004U);
  EXPECT_EQ(claims.chip_id[0], 0x33);
  EXPECT_EQ(claims.current_firmware, (FirmwareVersion{1, 55, 7}));
  EXPECT_EQ(parsed->signature_r[0], 0x44);
  EXPECT_EQ(parsed->signature_s[0], 0x55);
  EXPECT_EQ(parsed->signed_bytes().size(), 0x2A0U);
  EXPECT_EQ(parsed->cpuid_product, Product::Milan);
  EXPECT_TRUE(claims.product.empty());  // decided with the certificate (apply_product)

  auto applied = *parsed;
  apply_product(applied, Product::Milan);
  EXPECT_EQ(applied.claims.product, "Milan");
  EXPECT_EQ(applied.claims.reported_tcb.bootloader, 4);
  EXPECT_EQ(applied.claims.reported_tcb.snp, 0x18);
  EXPECT_EQ(applied.claims.reported_tcb.microcode, 0xd3);
}

TEST(SnpReport, ProductFromCpuid) {
  struct Case {
    std::uint8_t family;
    std::uint8_t model;
    std::optional<Product> product;
  };
  const Case cases[] = {
      {0x19, 0x00, Product::Milan}, {0x19, 0x01, Product::Milan}, {0x19, 0x0F, Product::Milan},
      {0x19, 0x10, Product::Genoa}, {0x19, 0x11, Product::Genoa}, {0x19, 0x1F, Product::Genoa},
      {0x19, 0xA0, Product::Genoa}, {0x19, 0xAF, Product::Genoa}, {0x1A, 0x00, Product::Turin},
      {0x1A, 0x02, Product::Turin}, {0x1A, 0x11, Product::Turin}, {0x19, 0x20, std::nullopt},
      {0x19, 0xB0, std::nullopt},   {0x1A, 0x50, std::nullopt},   {0x17, 0x01, std::nullopt},
      {0x00, 0x00, std::nullopt},
  };
  for (const auto& c : cases) {
    const auto product = product_from_cpuid({c.family, c.model, 0});
    if (c.product) {
      ASSERT_TRUE(product) << int(c.family) << "/" << int(c.model);
      EXPECT_EQ(*product, *c.product);
    } else {
      ASSERT_FALSE(product);
      EXPECT_EQ(error_id(product.error()), "snp.unknown_product");
    }
  }
  Bytes venice = minimal_report(5);
  venice[0x188] = 0x1A;
  venice[0x189] = 0x50;
  EXPECT_EQ(parse_error(venice), "snp.unknown_product");
}

TEST(SnpReport, ProductNames) {
  EXPECT_EQ(parse_product_name("Milan"), Product::Milan);
  EXPECT_EQ(parse_product_name("Milan-B0"), Product::Milan);
  EXPECT_EQ(parse_product_name("Genoa-B1"), Product::Genoa);
  EXPECT_EQ(parse_product_name("Turin"), Product::Turin);
  EXPECT_FALSE(parse_product_name("milan"));
  EXPECT_FALSE(parse_product_name("Milan-"));
  EXPECT_FALSE(parse_product_name("Venice"));
  EXPECT_FALSE(parse_product_name(""));
  EXPECT_EQ(to_string(Product::Genoa), "Genoa");
}

TEST(SnpReport, TcbLayoutsPerProduct) {
  // go-sev-guest attestation.bin: bl 2, tee 0, snp 5, ucode 68.
  const TcbVersion milan = decode_tcb(0x4405000000000002, Product::Milan);
  EXPECT_EQ(milan.bootloader, 2);
  EXPECT_EQ(milan.tee, 0);
  EXPECT_EQ(milan.snp, 5);
  EXPECT_EQ(milan.microcode, 68);
  EXPECT_FALSE(milan.fmc);
  EXPECT_EQ(encode_tcb(milan, Product::Milan), 0x4405000000000002U);
  EXPECT_EQ(decode_tcb(0x4405000000000002, Product::Genoa), milan);

  // Turin: byte0 fmc, byte1 boot_loader, byte2 tee, byte3 snp, byte7 microcode.
  const TcbVersion turin = decode_tcb(0x0900000004030201, Product::Turin);
  EXPECT_EQ(turin.fmc, std::optional<std::uint8_t>(1));
  EXPECT_EQ(turin.bootloader, 2);
  EXPECT_EQ(turin.tee, 3);
  EXPECT_EQ(turin.snp, 4);
  EXPECT_EQ(turin.microcode, 9);
  EXPECT_EQ(encode_tcb(turin, Product::Turin), 0x0900000004030201U);
  EXPECT_TRUE(has_fmc(Product::Turin));
  EXPECT_FALSE(has_fmc(Product::Genoa));
}

}  // namespace
}  // namespace atls::attest::snp
