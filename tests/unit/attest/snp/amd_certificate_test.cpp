// VCEK/VLEK extension parsing (AMD KDS spec; docs/verification.md §2.2) on the real
// certificates of VECTORS.md §2, malformed extensions, and the pinned trust anchors.
#include "attest/snp/amd_certificate.h"

#include <gtest/gtest.h>
#include <openssl/objects.h>

#include "attest/snp/trust_anchors.h"
#include "core/digest.h"
#include "snp_test_support.h"
#include "tls/certificate_builder.h"

namespace atls::attest::snp {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

AmdExtensions extensions_of(const Bytes& der) {
  auto cert = parse_certificate_der(der);
  EXPECT_TRUE(cert);
  if (!cert) {
    return {};
  }
  auto extensions = parse_amd_extensions(cert->get());
  EXPECT_TRUE(extensions) << (extensions ? "" : error_id(extensions.error()));
  return extensions ? *extensions : AmdExtensions{};
}

Bytes hex(std::string_view text) {
  return from_hex(text).value_or(Bytes{});
}

TEST(SnpAmdCertificate, TurinVcekExtensions) {
  ATLS_REQUIRE_TESTDATA();
  const AmdExtensions ext = extensions_of(load_der("virtee-sev/vcek_turin.der"));
  EXPECT_EQ(ext.struct_version, std::optional<std::int64_t>(1));
  EXPECT_EQ(ext.product_name, std::optional<std::string>("Turin"));
  EXPECT_EQ(ext.fmc_spl, std::optional<std::uint8_t>(0));
  EXPECT_EQ(ext.bl_spl, std::optional<std::uint8_t>(0));
  EXPECT_EQ(ext.tee_spl, std::optional<std::uint8_t>(0));
  EXPECT_EQ(ext.snp_spl, std::optional<std::uint8_t>(0));
  EXPECT_FALSE(ext.spl4);  // Turin VCEKs have no spl4
  EXPECT_EQ(ext.spl5, std::optional<std::uint8_t>(0));
  EXPECT_EQ(ext.ucode_spl, std::optional<std::uint8_t>(9));
  ASSERT_TRUE(ext.hw_id);
  EXPECT_EQ(to_hex(*ext.hw_id), "1e550a8ee5cf9f4d");  // 8-byte Turin hwID
  EXPECT_FALSE(ext.csp_id);
}

TEST(SnpAmdCertificate, TurinVcekChainsToThePinnedTurinArk) {
  ATLS_REQUIRE_TESTDATA();
  auto anchors = TrustAnchors::pinned();
  ASSERT_TRUE(anchors);
  const ProductAnchors& turin = (*anchors)->for_product(Product::Turin);
  auto vcek = parse_certificate_der(load_der("virtee-sev/vcek_turin.der"));
  ASSERT_TRUE(vcek);
  EXPECT_TRUE(issued_by(vcek->get(), turin.ask.get()));
  EXPECT_FALSE(issued_by(vcek->get(), (*anchors)->for_product(Product::Milan).ask.get()));
  const auto chain = load_pem_chain("virtee-sev/cert_chain_turin");  // ASK, ARK
  EXPECT_EQ(chain.at(0), turin.ask_der);
  EXPECT_EQ(chain.at(1), turin.ark_der);
}

TEST(SnpAmdCertificate, MilanVcekExtensions) {
  ATLS_REQUIRE_TESTDATA();
  const AmdExtensions ext = extensions_of(load_der("go-sev-guest/vcek.testcer"));
  EXPECT_EQ(ext.struct_version, std::optional<std::int64_t>(0));
  EXPECT_EQ(ext.product_name, std::optional<std::string>("Milan-B0"));
  EXPECT_EQ(ext.bl_spl, std::optional<std::uint8_t>(2));
  EXPECT_EQ(ext.snp_spl, std::optional<std::uint8_t>(5));
  EXPECT_EQ(ext.spl4, std::optional<std::uint8_t>(0));
  EXPECT_EQ(ext.ucode_spl, std::optional<std::uint8_t>(68));
  EXPECT_FALSE(ext.fmc_spl);
  ASSERT_TRUE(ext.hw_id);
  EXPECT_EQ(ext.hw_id->size(), 64U);
  EXPECT_EQ(to_hex(*ext.hw_id).substr(0, 8), "3ac3fe21");
}

TEST(SnpAmdCertificate, HwIdAsRawBytesOrOctetString) {
  ATLS_REQUIRE_TESTDATA();
  // trustee: the "legacy" VCEK has the raw 64 bytes, the "new" one a DER OCTET STRING.
  const AmdExtensions legacy = extensions_of(load_der("trustee/snp/test-vcek-invalid-legacy.der"));
  const AmdExtensions wrapped = extensions_of(load_der("trustee/snp/test-vcek-invalid-new.der"));
  Bytes expected(64);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<std::uint8_t>(i);
  }
  EXPECT_EQ(legacy.hw_id, std::optional<Bytes>(expected));
  EXPECT_EQ(wrapped.hw_id, std::optional<Bytes>(expected));
  // ucodeSPL 169 needs a leading zero byte in DER (02 02 00 a9).
  EXPECT_EQ(legacy.ucode_spl, std::optional<std::uint8_t>(169));
  EXPECT_EQ(wrapped.ucode_spl, std::optional<std::uint8_t>(30));
}

TEST(SnpAmdCertificate, VlekExtensions) {
  ATLS_REQUIRE_TESTDATA();
  const AmdExtensions ext = extensions_of(load_pem_chain("cvm-reverse-proxy/snp/vlek.pem").at(0));
  EXPECT_EQ(ext.product_name, std::optional<std::string>("Milan"));
  EXPECT_FALSE(ext.hw_id);
  EXPECT_EQ(ext.csp_id, std::optional<std::string>("CN=cc-us-east-2.amazonaws.com"));
  EXPECT_EQ(ext.bl_spl, std::optional<std::uint8_t>(3));
  EXPECT_EQ(ext.snp_spl, std::optional<std::uint8_t>(10));
  EXPECT_EQ(ext.ucode_spl, std::optional<std::uint8_t>(115));
}

// A throwaway certificate carrying AMD extensions with arbitrary content (the signature does
// not matter to the extension parser).
Bytes certificate_with(const std::vector<std::pair<std::string, Bytes>>& extensions) {
  auto key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  EXPECT_TRUE(key);
  tls::CertificateSpec spec;
  spec.common_name = "extension test";
  spec.not_before = utc(2024, 1, 1);
  spec.not_after = utc(2025, 1, 1);
  auto cert = tls::issue_certificate(spec, key->get(), nullptr, nullptr);
  EXPECT_TRUE(cert);
  for (const auto& [oid, content] : extensions) {
    ASN1_OBJECT* object = OBJ_txt2obj(oid.c_str(), 1);
    ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(value, content.data(), static_cast<int>(content.size()));
    X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, object, 0, value);
    X509_add_ext(cert->get(), extension, -1);
    X509_EXTENSION_free(extension);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(object);
  }
  return certificate_der(cert->get());
}

std::string extension_error(const std::vector<std::pair<std::string, Bytes>>& extensions) {
  auto cert = parse_certificate_der(certificate_with(extensions));
  if (!cert) {
    return "no certificate";
  }
  const auto parsed = parse_amd_extensions(cert->get());
  return parsed ? "ok" : error_id(parsed.error());
}

TEST(SnpAmdCertificate, MalformedExtensions) {
  const std::string bl(amd_oid::kBlSpl);
  const std::string name(amd_oid::kProductName);
  const std::string hw(amd_oid::kHwId);
  const std::string malformed = "snp.certificate_extension_malformed";
  EXPECT_EQ(extension_error({{bl, hex("020105")}}), "ok");
  EXPECT_EQ(extension_error({{bl, hex("020200ff")}}), "ok");
  EXPECT_EQ(extension_error({{bl, hex("02020100")}}), malformed);  // 256
  EXPECT_EQ(extension_error({{bl, hex("0201ff")}}), malformed);    // -1
  EXPECT_EQ(extension_error({{bl, hex("020105ff")}}), malformed);  // trailing byte
  EXPECT_EQ(extension_error({{bl, hex("1601")}}), malformed);      // IA5String, truncated
  EXPECT_EQ(extension_error({{bl, hex("160141")}}), malformed);    // IA5String, not INTEGER
  EXPECT_EQ(extension_error({{bl, hex("020105")}, {bl, hex("020105")}}), malformed);  // twice
  EXPECT_EQ(extension_error({{name, hex("020105")}}), malformed);
  EXPECT_EQ(extension_error({{hw, Bytes(63, 1)}}), malformed);
  EXPECT_EQ(extension_error({{hw, hex("0403010203")}}), malformed);  // wrapped, 3 bytes
  EXPECT_EQ(extension_error({{hw, Bytes(8, 1)}}), "ok");
  EXPECT_EQ(extension_error({{"1.3.6.1.4.1.3704.1.99", hex("ff")}}), "ok");  // unknown: ignored
  EXPECT_EQ(extension_error({}), "ok");
}

TEST(SnpAmdCertificate, CertificateParsingIsStrict) {
  const Bytes der = certificate_with({});
  EXPECT_TRUE(parse_certificate_der(der));
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(error_id(parse_certificate_der(trailing).error()), "snp.certificate_malformed");
  EXPECT_EQ(error_id(parse_certificate_der(ByteView(der).first(der.size() - 1)).error()),
            "snp.certificate_malformed");
  EXPECT_EQ(error_id(parse_certificate_der({}).error()), "snp.certificate_malformed");
  EXPECT_FALSE(parse_certificates_pem("no pem here"));
}

TEST(SnpAmdCertificate, PinnedAnchorsMatchTheirFingerprintsAndAmdFiles) {
  auto anchors = TrustAnchors::pinned();
  ASSERT_TRUE(anchors);
  EXPECT_FALSE((*anchors)->insecure());
  EXPECT_EQ(pinned_fingerprints().size(), 9U);
  for (const auto& pin : pinned_fingerprints()) {
    const ProductAnchors& product = (*anchors)->for_product(pin.product);
    const Bytes& der = pin.role == "ARK"   ? product.ark_der
                       : pin.role == "ASK" ? product.ask_der
                                           : product.asvk_der;
    EXPECT_EQ(to_hex(sha256(der)), pin.sha256_hex) << to_string(pin.product) << " " << pin.role;
  }
  if (!std::filesystem::is_directory(atls::testing::testdata_root())) {
    return;
  }
  // The same certificates as trustee's per-product bundles (ASK, ARK, ASVK).
  for (const auto& [file, product] :
       {std::pair{"trustee/snp/milan_ask_ark_asvk.pem", Product::Milan},
        std::pair{"trustee/snp/genoa_ask_ark_asvk.pem", Product::Genoa},
        std::pair{"trustee/snp/turin_ask_ark_asvk.pem", Product::Turin}}) {
    const auto chain = load_pem_chain(file);
    const ProductAnchors& anchors_for = (*anchors)->for_product(product);
    EXPECT_EQ(chain.at(0), anchors_for.ask_der) << file;
    EXPECT_EQ(chain.at(1), anchors_for.ark_der) << file;
    EXPECT_EQ(chain.at(2), anchors_for.asvk_der) << file;
  }
}

TEST(SnpAmdCertificate, InsecureTestAnchorsAreChecked) {
  auto key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  ASSERT_TRUE(key);
  tls::CertificateSpec spec;
  spec.common_name = "test root";
  spec.is_ca = true;
  spec.not_before = utc(2024, 1, 1);
  spec.not_after = utc(2030, 1, 1);
  auto root = tls::issue_certificate(spec, key->get(), nullptr, nullptr);
  ASSERT_TRUE(root);
  const Bytes root_der = certificate_der(root->get());
  auto anchors = TrustAnchors::insecure_for_testing(root_der, {}, {});
  ASSERT_TRUE(anchors);
  EXPECT_TRUE((*anchors)->insecure());
  EXPECT_EQ((*anchors)->for_product(Product::Turin).ark_der, root_der);
  EXPECT_EQ(error_id(TrustAnchors::insecure_for_testing(Bytes{1, 2}, {}, {}).error().code),
            "snp.trust_anchor_invalid");
  // An "ASK" that the root did not sign.
  auto other_key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  auto other = tls::issue_certificate(spec, other_key->get(), nullptr, nullptr);
  EXPECT_FALSE(TrustAnchors::insecure_for_testing(root_der, certificate_der(other->get()), {}));
}

TEST(SnpAmdCertificate, TimeHelpers) {
  EXPECT_EQ(format_unix_seconds(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(to_unix_seconds(utc(2024, 7, 19)), 1721347200);
}

}  // namespace
}  // namespace atls::attest::snp
