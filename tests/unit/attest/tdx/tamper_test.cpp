// A single flipped byte in any signed region of a real quote or its collateral fails
// verification, with the error of the check that covers that region.
#include <gtest/gtest.h>

#include <set>

#include "attest/tdx/quote_verifier.h"
#include "tdx_test_util.h"

namespace atls::attest::tdx {
namespace {

using testing::at_unix;
using testing::id_of;
using testing::load_collateral;
using testing::load_documents;
using testing::load_quote;
using testing::production_verifier;
using testing::report_data_of;

constexpr const char* kQuote = "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607";
constexpr const char* kCollateral =
    "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json";
const SystemTime kNow = at_unix(1769509141);

// v4 layout (interop §4.2).
constexpr std::size_t kSignature = 636;
constexpr std::size_t kAttestationKey = kSignature + 64;
constexpr std::size_t kQeReport = kAttestationKey + 64 + 6;
constexpr std::size_t kQeSignature = kQeReport + 384;
constexpr std::size_t kQeAuthData = kQeSignature + 64 + 2;

class TdxTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::is_directory(atls::testing::testdata_root())) {
      GTEST_SKIP() << "shared test data not found";
    }
    quote_ = load_quote(kQuote);
    expected_ = report_data_of(quote_);
    collateral_ = load_collateral(kCollateral);
    ASSERT_TRUE(collateral_);
    ASSERT_TRUE(production_verifier().verify(quote_, *collateral_, kNow, expected_));
  }

  /// Error id of verifying the quote with byte `offset` flipped ("ok" when it verifies).
  std::string flipped(std::size_t offset, std::uint8_t mask = 0x01) {
    Bytes quote = quote_;
    quote[offset] ^= mask;
    const auto result = production_verifier().verify(quote, *collateral_, kNow, expected_);
    return result ? std::string("ok") : id_of(result.error());
  }

  Bytes quote_;
  ReportData expected_{};
  CollateralPtr collateral_;
};

TEST_F(TdxTamper, QuoteBodyAndHeader) {
  // Header: every byte is rejected (structure, QE vendor, or the signature over it).
  std::set<std::string> header_errors;
  for (std::size_t offset = 0; offset < 48; ++offset) {
    const std::string error = flipped(offset);
    EXPECT_NE(error, "ok") << "offset " << offset;
    header_errors.insert(error);
  }
  EXPECT_TRUE(header_errors.count("tdx.quote_signature_invalid"));
  EXPECT_TRUE(header_errors.count("tdx.qe_vendor_not_intel"));
  // TD report body: the quote signature covers all of it. (REPORTDATA is compared with the
  // expected value only after the signature.)
  for (std::size_t offset = 48; offset < 632; ++offset) {
    ASSERT_EQ(flipped(offset), "tdx.quote_signature_invalid") << "offset " << offset;
  }
}

TEST_F(TdxTamper, QuoteSignature) {
  for (std::size_t offset = kSignature; offset < kSignature + 64; ++offset) {
    ASSERT_EQ(flipped(offset), "tdx.quote_signature_invalid") << "offset " << offset;
  }
}

TEST_F(TdxTamper, AttestationKeyAndQeAuthDataBreakTheQeBinding) {
  for (std::size_t offset = kAttestationKey; offset < kAttestationKey + 64; ++offset) {
    ASSERT_EQ(flipped(offset), "tdx.qe_report_data_mismatch") << "offset " << offset;
  }
  for (std::size_t offset = kQeAuthData; offset < kQeAuthData + 32; ++offset) {
    ASSERT_EQ(flipped(offset), "tdx.qe_report_data_mismatch") << "offset " << offset;
  }
}

TEST_F(TdxTamper, QeReportAndItsSignature) {
  for (std::size_t offset = kQeReport; offset < kQeSignature + 64; ++offset) {
    ASSERT_EQ(flipped(offset), "tdx.qe_report_signature_invalid") << "offset " << offset;
  }
}

TEST_F(TdxTamper, PckLeafSignature) {
  // The last base64 characters of the leaf certificate carry its signature.
  const auto parsed = parse_quote(quote_);
  ASSERT_TRUE(parsed);
  const std::size_t pem_start = kQeAuthData + 32 + 6;
  const std::size_t leaf_end = quote_.size() - parsed->trailing_bytes -
                               parsed->pck_chain_pem.size() +
                               parsed->pck_chain_pem.find("-----END CERTIFICATE-----");
  ASSERT_GT(leaf_end, pem_start);
  Bytes quote = quote_;
  // 'A' <-> 'B' changes one signature bit but keeps valid base64.
  const std::size_t offset = leaf_end - 10;
  quote[offset] = quote[offset] == 'A' ? 'B' : 'A';
  const auto result = production_verifier().verify(quote, *collateral_, kNow, expected_);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.pck_chain_invalid") << result.error().describe();
}

/// Flips each byte of one signed collateral document. Every flip must break the document
/// signature (checked directly with the signing key, the check that covers those bytes); every
/// 16th flipped collateral also goes through the full collateral verification, which must fail
/// with one of `allowed` (or fail to parse, with a named error).
void flip_each_byte(std::string CollateralDocuments::*field, Bytes CollateralDocuments::*signature,
                    const std::set<std::string>& allowed) {
  const auto base = load_documents(kCollateral);
  const auto base_collateral = testing::parse_collateral(base);
  ASSERT_TRUE(base_collateral);
  EVP_PKEY* signer = X509_get0_pubkey(base_collateral->tcb_info_issuer_chain().front().get());
  const std::string& text = base.*field;
  ASSERT_TRUE(verify_p256_raw(signer, as_bytes(text), base.*signature));
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto documents = base;
    (documents.*field)[i] = static_cast<char>((documents.*field)[i] ^ 0x01);
    ASSERT_FALSE(verify_p256_raw(signer, as_bytes(documents.*field), documents.*signature))
        << "byte " << i;
    if (i % 16 != 0) {
      continue;
    }
    auto collateral = Collateral::parse(std::move(documents));
    if (!collateral) {
      EXPECT_EQ(&collateral.error().code.category(), &tdx_category());
      continue;
    }
    const auto result = production_verifier().verify_collateral(**collateral, kNow);
    ASSERT_FALSE(result) << "byte " << i << " of the signed text changed and still verified";
    EXPECT_TRUE(allowed.count(id_of(result.error())))
        << "byte " << i << ": " << result.error().describe();
  }
}

TEST(TdxTamperCollateral, TcbInfoText) {
  ATLS_REQUIRE_TESTDATA();
  flip_each_byte(
      &CollateralDocuments::tcb_info, &CollateralDocuments::tcb_info_signature,
      {"tdx.tcb_info_signature_invalid", "tdx.tcb_info_expired", "tdx.tcb_info_not_yet_valid"});
}

TEST(TdxTamperCollateral, QeIdentityText) {
  ATLS_REQUIRE_TESTDATA();
  flip_each_byte(&CollateralDocuments::qe_identity, &CollateralDocuments::qe_identity_signature,
                 {"tdx.qe_identity_signature_invalid", "tdx.qe_identity_expired",
                  "tdx.qe_identity_not_yet_valid"});
}

TEST(TdxTamperCollateral, DocumentSignatures) {
  ATLS_REQUIRE_TESTDATA();
  const auto base = load_documents(kCollateral);
  for (std::size_t i = 0; i < 64; ++i) {
    auto documents = base;
    documents.tcb_info_signature[i] ^= 0x01;
    auto result =
        production_verifier().verify_collateral(*testing::parse_collateral(documents), kNow);
    ASSERT_FALSE(result);
    EXPECT_EQ(id_of(result.error()), "tdx.tcb_info_signature_invalid");
    documents = base;
    documents.qe_identity_signature[i] ^= 0x01;
    result = production_verifier().verify_collateral(*testing::parse_collateral(documents), kNow);
    ASSERT_FALSE(result);
    EXPECT_EQ(id_of(result.error()), "tdx.qe_identity_signature_invalid");
  }
}

TEST(TdxTamperCollateral, CrlSignatures) {
  ATLS_REQUIRE_TESTDATA();
  const auto base = load_documents(kCollateral);
  // The last bytes of a DER CRL are its signature value (ECDSA s).
  auto documents = base;
  documents.root_ca_crl[documents.root_ca_crl.size() - 3] ^= 0x01;
  auto result =
      production_verifier().verify_collateral(*testing::parse_collateral(documents), kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.root_crl_signature_invalid");
  documents = base;
  documents.pck_crl[documents.pck_crl.size() - 3] ^= 0x01;
  result = production_verifier().verify_collateral(*testing::parse_collateral(documents), kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.pck_crl_signature_invalid");
  // A CRL entry changed (signed content): the signature no longer matches.
  documents = base;
  documents.pck_crl[documents.pck_crl.size() / 2] ^= 0x01;
  auto collateral = Collateral::parse(documents);
  if (collateral) {
    result = production_verifier().verify_collateral(**collateral, kNow);
    ASSERT_FALSE(result);
    EXPECT_EQ(id_of(result.error()), "tdx.pck_crl_signature_invalid");
  }
}

TEST(TdxTamperCollateral, IssuerChainFromAnotherRootIsNotTrusted) {
  ATLS_REQUIRE_TESTDATA();
  auto documents = load_documents(kCollateral);
  // Replace the root of the TCB issuer chain with Intel's QVL test root.
  const std::string test_root =
      atls::testing::read_text(atls::testing::testdata_path("intel-qvl/trustedRootCaCert.pem"));
  const auto end = documents.tcb_info_issuer_chain.find("-----END CERTIFICATE-----");
  documents.tcb_info_issuer_chain =
      documents.tcb_info_issuer_chain.substr(0, end + 25) + "\n" + test_root;
  const auto result =
      production_verifier().verify_collateral(*testing::parse_collateral(documents), kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.root_not_trusted");
}

}  // namespace
}  // namespace atls::attest::tdx
