#pragma once
// INSECURE MOCK SEV-SNP: a run-time generated AMD-like PKI and an attester that mints
// structurally real attestation reports signed by a mock VCEK/VLEK. For tests, CI and demos
// without SEV-SNP hardware. Nothing here is trusted by the production verifier: the mock
// certificates chain to a mock ARK, which only a verifier built with
// SnpVerifierOptions::trust_insecure_test_anchors_for_testing accepts (the production verifier
// rejects mock evidence with snp.ark_not_pinned).
//
// Shape (mirrors AMD, docs/verification.md §2.2): ARK (RSA-4096, self-signed, RSASSA-PSS
// SHA-384 / MGF1-SHA-384 / salt 48) → ASK and ASVK (RSA-4096, PSS) → VCEK / VLEK (ECDSA P-384,
// PSS-signed) carrying the AMD extensions (productName, SPLs, hwID or cspID). Every subject
// says "INSECURE MOCK". Key material exists only in memory.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attest/attester.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_claims.h"
#include "attest/snp/snp_verifier.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/error.h"
#include "tls/certificate_builder.h"
#include "tls/ossl.h"

namespace atls::attest::mock {

/// Validity of every mock certificate: 2020-01-01 → 2049-12-31 (wide, so that tests can pick
/// any `now` in between, and expiry tests a time after it).
SystemTime mock_snp_not_before() noexcept;
SystemTime mock_snp_not_after() noexcept;

/// The key/certificate material of one mock leaf (VCEK or VLEK).
struct MockSnpLeaf {
  tls::EvpPkeyPtr key;  ///< P-384 private key (in memory only)
  Bytes der;            ///< the certificate
};

/// What a mock leaf certifies. For a VCEK, `hw_id` (64 bytes; Turin 8) is its hwID; a VLEK
/// has none.
struct MockSnpLeafSpec {
  snp::Product product = snp::Product::Milan;
  snp::Signer kind = snp::Signer::Vcek;
  Bytes hw_id;
  snp::TcbVersion tcb;  ///< components only; encoded per product
  /// KDS changed the hwID encoding in 2023: false = raw bytes (legacy), true = DER OCTET STRING.
  bool hw_id_as_octet_string = true;
  /// Test hooks: leave out one AMD extension by OID; replace the productName; use another key
  /// type than P-384.
  std::string omit_extension_oid;
  std::string product_name_override;
  tls::KeyAlgorithm key_algorithm = tls::KeyAlgorithm::EcP384;
  /// false: sign with RSASSA-PKCS1-v1_5 instead of PSS (the verifier must refuse it).
  bool rsa_pss = true;
};

class MockSnpPki final {
 public:
  /// Generates a fresh INSECURE MOCK ARK, ASK and ASVK (three RSA-4096 keys: ~1 s or more).
  static Outcome<std::shared_ptr<const MockSnpPki>> generate();

  /// Writes the keys (mode 0600) and certificates as PEM files snp-{ark,ask,asvk}.{key,crt} in
  /// `directory` (created if needed), so that another process can load the same PKI.
  Outcome<void> save(const std::filesystem::path& directory) const;
  /// Loads a PKI written by save(). Errors name the missing or malformed file.
  static Outcome<std::shared_ptr<const MockSnpPki>> load(const std::filesystem::path& directory);

  /// One process-wide PKI, generated on first use. Thread-safe.
  static Outcome<std::shared_ptr<const MockSnpPki>> shared();

  const Bytes& ark_der() const noexcept { return ark_der_; }
  const Bytes& ask_der() const noexcept { return ask_der_; }
  const Bytes& asvk_der() const noexcept { return asvk_der_; }
  /// The mock ARK as PEM, to hand to another process (make_insecure_mock_snp_verifier).
  std::string ark_pem() const;

  /// Issues a VCEK (signed by the ASK) or VLEK (signed by the ASVK) for `spec`.
  Outcome<MockSnpLeaf> issue_leaf(const MockSnpLeafSpec& spec) const;

  /// Issues an AMD-style CRL signed by the ARK (RSASSA-PSS) listing `revoked_ask` and/or
  /// `revoked_asvk`.
  Outcome<Bytes> issue_crl(bool revoked_ask, bool revoked_asvk, SystemTime this_update,
                           SystemTime next_update) const;

  /// Verifier options that trust ONLY this PKI (trust_insecure_test_anchors_for_testing).
  snp::SnpVerifierOptions insecure_verifier_options() const;

  MockSnpPki(const MockSnpPki&) = delete;
  MockSnpPki& operator=(const MockSnpPki&) = delete;
  ~MockSnpPki();

 private:
  MockSnpPki();
  tls::EvpPkeyPtr ark_key_;
  tls::EvpPkeyPtr ask_key_;
  tls::EvpPkeyPtr asvk_key_;
  tls::X509Ptr ark_;
  tls::X509Ptr ask_;
  tls::X509Ptr asvk_;
  Bytes ark_der_;
  Bytes ask_der_;
  Bytes asvk_der_;
};

/// An array with every byte set to `value`.
template <std::size_t N>
constexpr std::array<std::uint8_t, N> filled_array(std::uint8_t value) {
  std::array<std::uint8_t, N> out{};
  out.fill(value);
  return out;
}

/// What the mock report says. Defaults: a Milan v3 report, VCEK-signed, debug off, VMPL 0.
struct MockSnpConfig {
  AttestationType type = AttestationType::SevSnp;
  snp::Product product = snp::Product::Milan;
  snp::Signer signer = snp::Signer::Vcek;
  std::uint32_t report_version = 3;  ///< 2, 3 or 5
  std::array<std::uint8_t, 48> measurement = filled_array<48>(0x4d);
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::uint32_t guest_svn = 1;
  std::uint64_t policy = snp::guest_policy::kReservedMustBeOne | snp::guest_policy::kSmt;
  std::uint32_t vmpl = 0;
  std::uint64_t platform_info = snp::platform_info::kSmtEnabled;
  /// CHIP_ID; for Turin only the first 8 bytes are used (the rest must stay zero). Ignored
  /// (zero) for VLEK-signed reports.
  std::array<std::uint8_t, 64> chip_id = filled_array<64>(0xc1);
  bool mask_chip_id = false;
  /// Components of CURRENT/REPORTED/COMMITTED/LAUNCH_TCB (fmc used on Turin).
  snp::TcbVersion tcb{0, 4, 0, 22, 213, std::nullopt};
  snp::FirmwareVersion firmware{1, 55, 39};
  /// Which certificates go into the evidence.
  bool include_leaf = true;
  bool include_intermediate = true;
  bool include_ark = true;
  bool hw_id_as_octet_string = true;
};

/// Mints INSECURE MOCK SNP evidence (docs/protocol.md §7 encoding) signed by a mock leaf issued for
/// the configured chip and TCB at creation.
class MockSnpAttester final : public Attester {
 public:
  static Outcome<std::shared_ptr<MockSnpAttester>> create(std::shared_ptr<const MockSnpPki> pki,
                                                          MockSnpConfig config = {});

  AttestationType type() const noexcept override { return config_.type; }
  /// Evidence binding `report_data`. Thread-safe.
  Result<Bytes> generate(const ReportData& report_data) const override;

  /// The signed 1184-byte report alone.
  Result<Bytes> generate_report(const ReportData& report_data) const;
  /// The mock leaf certificate (DER), e.g. to feed a CertificateSource.
  const Bytes& leaf_der() const noexcept { return leaf_.der; }
  /// The mock leaf (key included), e.g. to persist it for a fake KDS.
  const MockSnpLeaf& leaf() const noexcept { return leaf_; }
  const MockSnpConfig& config() const noexcept { return config_; }

  MockSnpAttester(std::shared_ptr<const MockSnpPki> pki, MockSnpConfig config, MockSnpLeaf leaf);

 private:
  std::shared_ptr<const MockSnpPki> pki_;
  MockSnpConfig config_;
  MockSnpLeaf leaf_;
};

/// A verifier that trusts ONLY `pki`'s ARK (and its ASK/ASVK), via the insecure test option.
std::shared_ptr<const snp::SnpVerifier> make_insecure_mock_snp_verifier(
    const MockSnpPki& pki, snp::CertificateSourcePtr source = nullptr);

/// The same from an exported mock ARK (MockSnpPki::ark_pem()), e.g. in another process; the
/// evidence must then carry the ASK/ASVK (the mock attester includes it by default).
/// @return snp.trust_anchor_invalid if `ark_pem` is not one self-signed certificate.
Outcome<std::shared_ptr<const snp::SnpVerifier>> make_insecure_mock_snp_verifier(
    std::string_view ark_pem, snp::CertificateSourcePtr source = nullptr);

}  // namespace atls::attest::mock
