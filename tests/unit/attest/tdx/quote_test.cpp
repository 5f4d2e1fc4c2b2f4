// TDX quote parser (verification.md §1.1, interop §4.2): fields of real quotes, every named
// structural error, truncation at every length.
#include "attest/tdx/quote.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "attest/tdx/errors.h"
#include "tdx_test_util.h"

namespace atls::attest::tdx {
namespace {

using testing::id_of;
using testing::load_quote;

constexpr const char* kV4 = "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607";
constexpr const char* kV5 = "flashbots/attestation-test-assets/azure_failed_dcap_quote_10.bin";

// v4 offsets (interop §4.2): signed region [0, 632), auth data size at 632, auth data at 636.
constexpr std::size_t kV4AuthSize = 632;
constexpr std::size_t kV4CertType = 636 + 128;
constexpr std::size_t kV4CertSize = kV4CertType + 2;
constexpr std::size_t kV4QeReport = kV4CertSize + 4;
constexpr std::size_t kV4QeAuthSize = kV4QeReport + 384 + 64;
constexpr std::size_t kV4InnerType = kV4QeAuthSize + 2 + 32;
constexpr std::size_t kV4InnerSize = kV4InnerType + 2;

void put_u16(Bytes& b, std::size_t offset, std::uint16_t value) {
  b[offset] = static_cast<std::uint8_t>(value);
  b[offset + 1] = static_cast<std::uint8_t>(value >> 8);
}

void put_u32(Bytes& b, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    b[offset + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

std::uint32_t get_u32(const Bytes& b, std::size_t offset) {
  return static_cast<std::uint32_t>(b[offset]) | (static_cast<std::uint32_t>(b[offset + 1]) << 8) |
         (static_cast<std::uint32_t>(b[offset + 2]) << 16) |
         (static_cast<std::uint32_t>(b[offset + 3]) << 24);
}

std::string parse_error(const Bytes& quote) {
  const auto parsed = parse_quote(quote);
  EXPECT_FALSE(parsed);
  return parsed ? std::string("ok") : id_of(parsed.error());
}

TEST(TdxQuote, ParsesTheFlashbotsV4Quote) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes bytes = load_quote(kV4);
  const auto quote = parse_quote(bytes);
  ASSERT_TRUE(quote) << quote.error().describe();
  EXPECT_EQ(quote->header.version, 4);
  EXPECT_EQ(quote->header.attestation_key_type, 2);
  EXPECT_EQ(quote->header.tee_type, kTeeTypeTdx);
  EXPECT_EQ(quote->header.qe_vendor_id, kIntelQeVendorId);
  EXPECT_EQ(quote->body_type, kBodyTypeTdReport10);
  EXPECT_EQ(quote->signed_data.size(), 632U);
  EXPECT_EQ(quote->size, 4935U);
  EXPECT_EQ(quote->trailing_bytes, 3065U);
  EXPECT_EQ(to_hex(quote->body.tee_tcb_svn), "08010800000000000000000000000000");
  EXPECT_EQ(to_hex(quote->body.td_attributes), "0000001000000000");
  EXPECT_EQ(to_hex(quote->body.xfam), "e700060000000000");
  EXPECT_EQ(to_hex(quote->body.mr_td).substr(0, 16), "a5844e88897b70c3");
  EXPECT_EQ(to_hex(quote->body.rtmr[0]).substr(0, 16), "0564ec85d8d7cbae");
  EXPECT_EQ(to_hex(quote->body.rtmr[3]), std::string(96, '0'));
  EXPECT_EQ(to_hex(quote->body.report_data).substr(0, 16), "74276a648f1fd491");
  EXPECT_EQ(quote->qe_report.isv_prod_id, 2);
  EXPECT_EQ(quote->qe_report.isv_svn, 6);
  EXPECT_EQ(quote->qe_auth_data.size(), 32U);
  EXPECT_EQ(quote->pck_chain_pem.substr(0, 27), "-----BEGIN CERTIFICATE-----");
  EXPECT_NE(quote->pck_chain_pem.back(), '\0');
  // The REPORTDATA offset of a v4 quote is 568 (interop §4.2).
  EXPECT_EQ(std::memcmp(bytes.data() + 568, quote->body.report_data.data(), 64), 0);
}

TEST(TdxQuote, ParsesTheV5TdReport15Quote) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes bytes = load_quote(kV5);
  const auto quote = parse_quote(bytes);
  ASSERT_TRUE(quote) << quote.error().describe();
  EXPECT_EQ(quote->header.version, 5);
  EXPECT_EQ(quote->body_type, kBodyTypeTdReport15);
  EXPECT_EQ(quote->signed_data.size(), 702U);
  EXPECT_EQ(quote->trailing_bytes, 0U);
  EXPECT_EQ(to_hex(quote->body.tee_tcb_svn2).substr(0, 6), "0d0103");
  EXPECT_EQ(quote->body.mr_servicetd, Measurement{});
  // v5: REPORTDATA at 568 + 6.
  EXPECT_EQ(std::memcmp(bytes.data() + 574, quote->body.report_data.data(), 64), 0);
}

TEST(TdxQuote, EveryTruncationIsANamedError) {
  ATLS_REQUIRE_TESTDATA();
  for (const char* path : {kV4, kV5}) {
    SCOPED_TRACE(path);
    const Bytes bytes = load_quote(path);
    const auto full = parse_quote(bytes);
    ASSERT_TRUE(full);
    for (std::size_t length = 0; length < full->size; ++length) {
      const auto parsed = parse_quote(ByteView(bytes).first(length));
      ASSERT_FALSE(parsed) << "length " << length;
      EXPECT_EQ(&parsed.error().code.category(), &tdx_category());
      EXPECT_NE(tdx_category().code_name(parsed.error().code.value()), "unknown");
    }
    // Anything after the authentication data is padding.
    for (std::size_t length = full->size; length <= bytes.size(); length += 97) {
      EXPECT_TRUE(parse_quote(ByteView(bytes).first(length))) << "length " << length;
    }
  }
}

TEST(TdxQuote, HeaderErrorsAreNamed) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes base = load_quote(kV4);
  auto quote = base;
  put_u16(quote, 0, 6);
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_quote_version");
  quote = base;
  put_u16(quote, 0, 2);
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_quote_version");
  quote = base;
  put_u16(quote, 0, 3);  // SGX version with the TDX TEE type
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_quote_version");
  quote = base;
  put_u32(quote, 4, 0);
  EXPECT_EQ(parse_error(quote), "tdx.sgx_quote_not_supported");
  quote = base;
  put_u32(quote, 4, 0x82);
  EXPECT_EQ(parse_error(quote), "tdx.not_tdx");
  quote = base;
  put_u16(quote, 2, 3);  // ECDSA P-384
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_key_type");
}

TEST(TdxQuote, V5BodyDescriptorErrorsAreNamed) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes base = load_quote(kV5);
  auto quote = base;
  put_u16(quote, 48, 1);
  EXPECT_EQ(parse_error(quote), "tdx.sgx_quote_not_supported");
  quote = base;
  put_u16(quote, 48, 4);
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_body_type");
  quote = base;
  put_u32(quote, 50, 584);  // type 3 with the TD 1.0 size
  EXPECT_EQ(parse_error(quote), "tdx.body_size_mismatch");
  quote = base;
  put_u16(quote, 48, 2);  // type 2 with the TD 1.5 size
  EXPECT_EQ(parse_error(quote), "tdx.body_size_mismatch");
}

TEST(TdxQuote, CertificationDataErrorsAreNamed) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes base = load_quote(kV4);
  auto quote = base;
  put_u16(quote, kV4CertType, 5);
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_certification_data_type");
  quote = base;
  put_u16(quote, kV4InnerType, 3);
  EXPECT_EQ(parse_error(quote), "tdx.unsupported_pck_cert_data_type");
  quote = base;
  put_u32(quote, kV4CertSize, get_u32(base, kV4CertSize) + 1);  // beyond the auth data
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
  quote = base;
  put_u32(quote, kV4CertSize, get_u32(base, kV4CertSize) - 1);  // leaves an unused byte
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
  quote = base;
  put_u32(quote, kV4InnerSize, get_u32(base, kV4InnerSize) + 1);
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
  quote = base;
  put_u32(quote, kV4InnerSize, get_u32(base, kV4InnerSize) - 1);
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
  quote = base;
  put_u16(quote, kV4QeAuthSize, 0xffff);
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
  quote = base;
  put_u32(quote, kV4AuthSize, 0xffffffff);  // declared far beyond the buffer
  EXPECT_EQ(parse_error(quote), "tdx.quote_truncated");
  quote = base;
  put_u32(quote, kV4AuthSize, get_u32(base, kV4AuthSize) + 1);  // swallows one padding byte
  EXPECT_EQ(parse_error(quote), "tdx.certification_data_size_mismatch");
}

TEST(TdxQuote, EnclaveReportFieldsFollowTheSgxLayout) {
  std::array<std::uint8_t, kEnclaveReportSize> raw{};
  raw[0] = 0xaa;     // CPUSVN
  raw[0x10] = 0x01;  // MISCSELECT (LE)
  raw[0x13] = 0x80;
  raw[0x30] = 0x15;   // ATTRIBUTES
  raw[0x40] = 0x40;   // MRENCLAVE
  raw[0x80] = 0x80;   // MRSIGNER
  raw[0x100] = 0x02;  // ISVPRODID
  raw[0x102] = 0x07;  // ISVSVN
  raw[0x140] = 0x99;  // REPORTDATA
  raw[0x17f] = 0x98;
  const auto report = parse_enclave_report(raw);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->cpu_svn[0], 0xaa);
  EXPECT_EQ(report->misc_select, 0x80000001U);
  EXPECT_EQ(report->attributes[0], 0x15);
  EXPECT_EQ(report->mr_enclave[0], 0x40);
  EXPECT_EQ(report->mr_signer[0], 0x80);
  EXPECT_EQ(report->isv_prod_id, 2);
  EXPECT_EQ(report->isv_svn, 7);
  EXPECT_EQ(report->report_data[0], 0x99);
  EXPECT_EQ(report->report_data[63], 0x98);
  EXPECT_EQ(report->raw, raw);
  EXPECT_FALSE(parse_enclave_report(ByteView(raw).first(383)));
}

TEST(TdxQuote, TrailingNulsOfThePemChainAreStripped) {
  ATLS_REQUIRE_TESTDATA();
  // dcap-qvl/tdx_quote's chain is NUL-terminated (verification.md §1.1 item 3).
  const auto quote = parse_quote(load_quote("dcap-qvl/tdx_quote"));
  ASSERT_TRUE(quote);
  EXPECT_EQ(quote->pck_chain_pem.back(), '\n');
}

TEST(TdxQuote, MatchesTrusteesParsedClaims) {
  // trustee/parse_tdx_claims_expected.json is trustee's parse of trustee/tdx_quote_4.dat.
  ATLS_REQUIRE_TESTDATA();
  const auto expected = nlohmann::json::parse(atls::testing::read_text(
      atls::testing::testdata_path("trustee/parse_tdx_claims_expected.json")));
  const auto quote = parse_quote(load_quote("trustee/tdx_quote_4.dat"));
  ASSERT_TRUE(quote) << quote.error().describe();
  const auto& body = expected["quote"]["body"];
  const auto& header = expected["quote"]["header"];
  EXPECT_EQ(to_hex(quote->body.mr_seam), body["mr_seam"]);
  EXPECT_EQ(to_hex(quote->body.mr_signer_seam), body["mrsigner_seam"]);
  EXPECT_EQ(to_hex(quote->body.mr_td), body["mr_td"]);
  EXPECT_EQ(to_hex(quote->body.mr_config_id), body["mr_config_id"]);
  EXPECT_EQ(to_hex(quote->body.mr_owner), body["mr_owner"]);
  EXPECT_EQ(to_hex(quote->body.mr_owner_config), body["mr_owner_config"]);
  EXPECT_EQ(to_hex(quote->body.report_data), body["report_data"]);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(to_hex(quote->body.rtmr[i]), body["rtmr_" + std::to_string(i)]);
  }
  EXPECT_EQ(to_hex(quote->body.seam_attributes), body["seam_attributes"]);
  EXPECT_EQ(to_hex(quote->body.tee_tcb_svn), body["tcb_svn"]);
  EXPECT_EQ(to_hex(quote->body.td_attributes), body["td_attributes"]);
  EXPECT_EQ(to_hex(quote->body.xfam), body["xfam"]);
  EXPECT_EQ(to_hex(quote->header.qe_vendor_id), header["vendor_id"]);
  EXPECT_EQ(to_hex(quote->header.user_data), header["user_data"]);
  EXPECT_EQ(quote->header.version, 4);
  EXPECT_TRUE(expected["td_attributes"]["debug"].get<bool>());  // hence td_debug_enabled
}

}  // namespace
}  // namespace atls::attest::tdx
