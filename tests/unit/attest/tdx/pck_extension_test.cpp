// PCK certificate SGX extension (verification.md §1.2) and CA type.
#include "attest/tdx/pck_extension.h"

#include <gtest/gtest.h>

#include "attest/tdx/errors.h"
#include "attest/tdx/quote.h"
#include "tdx_test_util.h"

namespace atls::attest::tdx {
namespace {

using testing::id_of;

std::vector<tls::X509Ptr> chain_of(const std::string& quote_path) {
  const auto quote = parse_quote(testing::load_quote(quote_path));
  EXPECT_TRUE(quote);
  auto chain =
      parse_pem_chain(quote ? quote->pck_chain_pem : "", make_error_code(Errc::PckChainMalformed));
  EXPECT_TRUE(chain);
  return chain ? std::move(*chain) : std::vector<tls::X509Ptr>{};
}

/// DER of the extension in a certificate.
Bytes extension_der(X509* cert) {
  std::unique_ptr<ASN1_OBJECT, tls::OsslDeleter<ASN1_OBJECT_free>> oid(
      OBJ_txt2obj(kSgxExtensionOid, 1));
  const int index = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  EXPECT_GE(index, 0);
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
  return Bytes(ASN1_STRING_get0_data(data), ASN1_STRING_get0_data(data) + ASN1_STRING_length(data));
}

TEST(TdxPckExtension, ParsesTheFlashbotsPck) {
  ATLS_REQUIRE_TESTDATA();
  const auto chain = chain_of("flashbots/attestation-test-assets/dcap-tdx-1766059550570652607");
  ASSERT_EQ(chain.size(), 3U);
  const auto ext = parse_pck_extension(chain[0].get());
  ASSERT_TRUE(ext) << ext.error().describe();
  // CATALOG: FMSPC 00806F050000, CPUSVN 08080202040100060000000000000000, PCESVN 11.
  EXPECT_EQ(to_hex(ext->fmspc), "00806f050000");
  EXPECT_EQ(to_hex(ext->cpu_svn), "08080202040100060000000000000000");
  EXPECT_EQ(to_hex(ext->tcb_components), "08080202040100060000000000000000");
  EXPECT_EQ(ext->pce_svn, 11);
  EXPECT_EQ(to_hex(ext->pce_id), "0000");
  EXPECT_EQ(ext->sgx_type, 1);  // Scalable
  // Platform CA certificates carry the platform instance id and configuration.
  EXPECT_TRUE(ext->platform_instance_id);
  ASSERT_TRUE(ext->configuration);
  EXPECT_TRUE(ext->configuration->dynamic_platform.has_value());
  EXPECT_EQ(pck_ca_type_from_issuer(chain[0].get()), PckCaType::Platform);
  // The CA certificate has no SGX extension.
  const auto none = parse_pck_extension(chain[1].get());
  ASSERT_FALSE(none);
  EXPECT_EQ(id_of(none.error()), "tdx.pck_extension_missing");
}

TEST(TdxPckExtension, ParsesOtherVectors) {
  ATLS_REQUIRE_TESTDATA();
  struct Case {
    const char* quote;
    const char* fmspc;
    std::uint16_t pce_svn;
    const char* components;
  };
  for (const auto& c : {
           Case{"dcap-qvl/tdx_quote", "b0c06f000000", 11, "03030202040100050000000000000000"},
           Case{"flashbots/attestation-test-assets/azure_failed_dcap_quote_10.bin", "90c06f000000",
                13, "03030202040100030000000000000000"},
           Case{"go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "50806f000000", 11,
                "03030202020100020000000000000000"},
           Case{"trustee/tdx_quote_4.dat", "50806f000000", 11, "05050d02030100030000000000000000"},
       }) {
    SCOPED_TRACE(c.quote);
    const auto chain = chain_of(c.quote);
    ASSERT_EQ(chain.size(), 3U);
    const auto ext = parse_pck_extension(chain[0].get());
    ASSERT_TRUE(ext) << ext.error().describe();
    EXPECT_EQ(to_hex(ext->fmspc), c.fmspc);
    EXPECT_EQ(ext->pce_svn, c.pce_svn);
    EXPECT_EQ(to_hex(ext->tcb_components), c.components);
  }
}

TEST(TdxPckExtension, EveryTruncationAndCorruptionIsNamed) {
  ATLS_REQUIRE_TESTDATA();
  const auto chain = chain_of("dcap-qvl/tdx_quote");
  ASSERT_EQ(chain.size(), 3U);
  const Bytes der = extension_der(chain[0].get());
  ASSERT_TRUE(parse_pck_extension_der(der));
  for (std::size_t length = 0; length < der.size(); ++length) {
    const auto ext = parse_pck_extension_der(ByteView(der).first(length));
    ASSERT_FALSE(ext) << length;
    EXPECT_EQ(id_of(ext.error()), "tdx.pck_extension_malformed");
  }
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_FALSE(parse_pck_extension_der(trailing));
  // Flipping any byte never crashes; what still parses must keep the 16-byte fields.
  for (std::size_t i = 0; i < der.size(); ++i) {
    Bytes corrupt = der;
    corrupt[i] ^= 0x80;
    const auto ext = parse_pck_extension_der(corrupt);
    if (!ext) {
      EXPECT_EQ(id_of(ext.error()), "tdx.pck_extension_malformed");
    }
  }
}

TEST(TdxPckExtension, RejectsMissingAndDuplicateFields) {
  // SEQUENCE { SEQUENCE { OID .4, OCTET STRING(6) } }: FMSPC only.
  const Bytes fmspc_only{0x30, 0x16, 0x30, 0x14, 0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d,
                         0x01, 0x0d, 0x01, 0x04, 0x04, 0x06, 0,    0x80, 0x6f, 5,    0,    0};
  auto ext = parse_pck_extension_der(fmspc_only);
  ASSERT_FALSE(ext);
  EXPECT_NE(ext.error().detail.find("mandatory"), std::string::npos);
  Bytes twice{0x30, 0x2c};
  twice.insert(twice.end(), fmspc_only.begin() + 2, fmspc_only.end());
  twice.insert(twice.end(), fmspc_only.begin() + 2, fmspc_only.end());
  ext = parse_pck_extension_der(twice);
  ASSERT_FALSE(ext);
  EXPECT_NE(ext.error().detail.find("duplicate"), std::string::npos);
  EXPECT_FALSE(parse_pck_extension_der(Bytes{}));
  EXPECT_FALSE(parse_pck_extension_der(Bytes{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}));
}

}  // namespace
}  // namespace atls::attest::tdx
