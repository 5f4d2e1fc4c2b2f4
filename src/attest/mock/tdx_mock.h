#pragma once
// Mock Intel TDX for CI and tests: a complete DCAP PKI generated at run time (root CA, PCK
// Platform/Processor CA, PCK leaf with a proper SGX extension, TCB signing certificate, root and
// PCK CRLs, signed TCB info with TDX module identities, signed TD_QE identity) and an attester
// that mints structurally real, properly signed v4/v5 quotes. The REAL verifier
// (attest/tdx/tdx_verifier.h) verifies them end to end when — and only when — it is configured
// to trust this PKI's root through TrustAnchors::insecure_test_roots_for_testing. Every name in
// the PKI starts with "ATLS INSECURE MOCK" so a mock certificate is recognisable anywhere.
//
// Compare flashbots' main-branch crates/mock-tdx (interop spec §5.5), which embeds fixed keys;
// here every key is generated at run time and nothing secret is ever written out.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/attester.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/collateral_source.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/tcb_info.h"
#include "attest/tdx/tdx_verifier.h"
#include "attest/tdx/trust.h"
#include "core/clock.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::mock {

enum class TdxMockErrc {
  KeyGenerationFailed = 1,
  SigningFailed,
  ExportFailed,
  ImportFailed,
  InvalidOptions,
};

ATLS_DECLARE_ERRC(TdxMockErrc, tdx_mock_category)

}  // namespace atls::attest::mock

ATLS_REGISTER_ERRC(atls::attest::mock::TdxMockErrc);

namespace atls::attest::mock {

/// Names used in the mock PKI.
inline constexpr const char* kMockRootName = "ATLS INSECURE MOCK SGX Root CA";
inline constexpr const char* kMockPlatformCaName = "ATLS INSECURE MOCK SGX PCK Platform CA";
inline constexpr const char* kMockProcessorCaName = "ATLS INSECURE MOCK SGX PCK Processor CA";
inline constexpr const char* kMockPckName = "ATLS INSECURE MOCK SGX PCK Certificate";
inline constexpr const char* kMockTcbSignerName = "ATLS INSECURE MOCK SGX TCB Signing";

struct MockTdxPkiOptions {
  tdx::Fmspc fmspc{0x00, 0xa0, 0x6e, 0x57, 0x00, 0x00};
  tdx::PckCaType ca_type = tdx::PckCaType::Platform;
  tdx::PceId pce_id{0x00, 0x00};
  /// The PCK's SGX TCB components, PCESVN and CPUSVN (PCK extension, verification.md §1.2).
  std::array<std::uint8_t, 16> sgx_tcb_components{3, 3, 2, 2, 4, 1, 0, 5};
  std::uint16_t pce_svn = 13;
  /// QE identity of the mock QE.
  std::uint16_t qe_isv_prod_id = 2;

  /// TCB info levels; empty = one UpToDate level equal to the PCK components (TDX components
  /// {0, 0, 2}) plus an older OutOfDate level with a mock advisory.
  std::vector<tdx::TcbLevel> tcb_levels;
  /// TDX module identities; empty = "TDX_01" with levels isvsvn 3 UpToDate, 1 OutOfDate.
  std::vector<tdx::TdxModuleIdentity> module_identities;
  /// QE identity levels; empty = isvsvn 8 UpToDate, 4 OutOfDate.
  std::vector<tdx::QeTcbLevel> qe_tcb_levels;
  std::string tcb_info_id = "TDX";
  std::uint32_t tcb_info_version = 3;
  std::string qe_identity_id = "TD_QE";
  /// What the QE identity demands, when it should differ from the mock QE (negative tests).
  std::optional<std::array<std::uint8_t, 32>> qe_identity_mr_signer;
  std::optional<std::uint16_t> qe_identity_isv_prod_id;
  std::string qe_identity_miscselect = "00000000";
  std::string qe_identity_attributes = "11000000000000000000000000000000";

  /// Validity relative to the `now` given to MockTdxPki::create: certificates from 1 day
  /// before for `certificate_lifetime`; TCB info and QE identity issued 1 hour before with
  /// nextUpdate `document_lifetime` later; CRLs likewise with `crl_lifetime`.
  std::chrono::seconds certificate_lifetime = std::chrono::hours(24 * 365 * 5);
  std::chrono::seconds document_lifetime = std::chrono::hours(24 * 30);
  std::chrono::seconds crl_lifetime = std::chrono::hours(24 * 30);
  /// Revocations (for negative tests).
  bool revoke_pck = false;
  bool revoke_pck_ca = false;
};

/// Dates of a (re-)issued collateral bundle (MockTdxPki::issue_collateral).
struct MockTdxCollateralDates {
  /// issueDate of TCB info and QE identity, thisUpdate of both CRLs.
  SystemTime issued;
  /// nextUpdate = issued + lifetime.
  std::chrono::seconds document_lifetime = std::chrono::hours(24 * 30);
  std::chrono::seconds crl_lifetime = std::chrono::hours(24 * 30);
  std::chrono::seconds root_crl_lifetime = std::chrono::hours(24 * 365);
  /// Replaces tcbEvaluationDataNumber in both documents when set.
  std::optional<std::uint32_t> tcb_evaluation_data_number;
};

/// A mock DCAP PKI with its collateral. Immutable after creation; shareable across threads.
class MockTdxPki final {
 public:
  /// Generates every key and certificate and signs the collateral.
  /// @return the PKI or tdx_mock.key_generation_failed / tdx_mock.signing_failed.
  static Outcome<std::shared_ptr<const MockTdxPki>> create(SystemTime now,
                                                           MockTdxPkiOptions options = {});

  const MockTdxPkiOptions& options() const noexcept { return options_; }
  /// DER / PEM of the (insecure) mock root.
  const Bytes& root_der() const noexcept { return root_der_; }
  std::string root_pem() const;
  /// The PCK chain (leaf, CA, root) embedded in every quote.
  const std::string& pck_chain_pem() const noexcept { return pck_chain_pem_; }
  /// MRSIGNER of the mock quoting enclave (what the QE identity requires).
  const std::array<std::uint8_t, 32>& qe_mr_signer() const noexcept { return qe_mr_signer_; }

  const tdx::CollateralDocuments& collateral_documents() const noexcept { return documents_; }
  tdx::CollateralPtr collateral() const noexcept { return collateral_; }
  /// A source serving this PKI's collateral.
  std::shared_ptr<tdx::StaticCollateralSource> collateral_source() const;
  /// Trust anchors holding ONLY the mock root (TrustAnchors::insecure_test_roots_for_testing).
  tdx::TrustAnchorsPtr trust_anchors() const noexcept { return anchors_; }
  /// A real TdxVerifier trusting the mock root and serving this collateral.
  std::shared_ptr<tdx::TdxVerifier> make_verifier() const;

  /// Writes `mock-root-ca.pem` and `mock-collateral.json` (dcap-qvl form) into `directory`, so
  /// another process can verify mock quotes (load_exported_mock_tdx). No private key is
  /// written. tdx_mock.export_failed on I/O errors.
  Outcome<void> export_to(const std::filesystem::path& directory) const;

  /// Signs `message` with the PCK key (raw r||s), as the provisioning enclave would.
  Outcome<std::array<std::uint8_t, 64>> sign_with_pck(ByteView message) const;

  /// The same collateral re-issued under this PKI with other dates (what Intel PCS does about
  /// daily): TCB info and QE identity re-dated and re-signed, both CRLs re-issued. For tests of
  /// collateral refresh (a fake PCS serving newer, older or expired bundles).
  /// @return the documents or tdx_mock.signing_failed.
  Outcome<tdx::CollateralDocuments> issue_collateral(const MockTdxCollateralDates& dates) const;

  /// Writes the whole PKI into `directory` (created if needed), every file prefixed "tdx-":
  /// tdx-{root,pck-ca,pck,tcb-signer}.key (mode 0600) and .crt, tdx-collateral.json (dcap-qvl
  /// form) and tdx-pki.json (the PCK's TCB, QE identity values and revocation flags), so that
  /// another process can mint quotes (load) or verify them (load_mock_tdx_verifier).
  /// tdx_mock.export_failed with the file name otherwise.
  Outcome<void> save(const std::filesystem::path& directory) const;
  /// Loads a PKI written by save(). tdx_mock.import_failed naming the missing or malformed file
  /// (or a tdx.* collateral error).
  static Outcome<std::shared_ptr<const MockTdxPki>> load(const std::filesystem::path& directory);

 private:
  MockTdxPki() = default;
  /// Derives the PCK chain, root DER, parsed collateral and anchors from the keys, certificates
  /// and documents.
  Outcome<void> finish();

  MockTdxPkiOptions options_;
  tls::EvpPkeyPtr pck_key_;
  tls::X509Ptr pck_;
  tls::EvpPkeyPtr root_key_;
  tls::EvpPkeyPtr ca_key_;
  tls::X509Ptr ca_;
  tls::EvpPkeyPtr signer_key_;
  tls::X509Ptr signer_;
  Bytes root_der_;
  tls::X509Ptr root_;
  std::string pck_chain_pem_;
  std::array<std::uint8_t, 32> qe_mr_signer_{};
  tdx::CollateralDocuments documents_;
  tdx::CollateralPtr collateral_;
  tdx::TrustAnchorsPtr anchors_;
};

using MockTdxPkiPtr = std::shared_ptr<const MockTdxPki>;

/// What a mock quote reports. Defaults: v4, TD report 1.0, all measurements zero except as set,
/// TDATTRIBUTES with only SEPT_VE_DISABLE, TEE_TCB_SVN {3, 1, 2} (module TDX_01, SVN 3).
struct MockTdxQuoteOptions {
  std::uint16_t version = 4;
  std::uint16_t body_type = tdx::kBodyTypeTdReport10;  ///< v5 only: 2 or 3
  tdx::Measurement mr_td{};
  std::array<tdx::Measurement, 4> rtmr{};
  tdx::Measurement mr_config_id{};
  tdx::Measurement mr_owner{};
  tdx::Measurement mr_owner_config{};
  tdx::Measurement mr_seam{};
  tdx::Measurement mr_signer_seam{};
  std::array<std::uint8_t, 8> seam_attributes{};
  std::array<std::uint8_t, 8> td_attributes{0, 0, 0, 0x10, 0, 0, 0, 0};
  std::array<std::uint8_t, 8> xfam{0xe7, 0x02, 0x06, 0, 0, 0, 0, 0};
  std::array<std::uint8_t, 16> tee_tcb_svn{3, 1, 2};
  std::array<std::uint8_t, 16> tee_tcb_svn2{};  ///< TD 1.5 only
  tdx::Measurement mr_servicetd{};              ///< TD 1.5 only
  std::uint16_t qe_isv_svn = 8;
  std::uint32_t qe_misc_select = 0;
  /// QE report ATTRIBUTES byte 0 (0x15 = INIT | MODE64BIT | PROVISIONKEY; bit 1 = DEBUG).
  std::uint8_t qe_attributes0 = 0x15;
  /// Zero bytes appended after the quote (configfs-tsm hands out padded buffers).
  std::size_t padding = 0;
};

/// Mints signed TDX quotes under a MockTdxPki. The attestation key is generated once per
/// attester (like a real QE's), so consecutive quotes share their QE report.
class MockTdxAttester final : public Attester {
 public:
  /// @return the attester or tdx_mock.key_generation_failed / tdx_mock.invalid_options.
  static Outcome<std::shared_ptr<MockTdxAttester>> create(
      MockTdxPkiPtr pki, MockTdxQuoteOptions options = {},
      AttestationType type = AttestationType::DcapTdx);

  AttestationType type() const noexcept override { return type_; }

  /// A quote binding `report_data` (REPORTDATA). Thread-safe.
  Result<Bytes> generate(const ReportData& report_data) const override;

 private:
  MockTdxAttester() = default;

  MockTdxPkiPtr pki_;
  MockTdxQuoteOptions options_;
  AttestationType type_ = AttestationType::DcapTdx;
  tls::EvpPkeyPtr attestation_key_;
  std::array<std::uint8_t, 64> attestation_public_{};
  std::array<std::uint8_t, tdx::kEnclaveReportSize> qe_report_{};
  std::array<std::uint8_t, 64> qe_report_signature_{};
  std::array<std::uint8_t, 32> qe_auth_data_{};
};

/// What load_exported_mock_tdx returns: a verifier for quotes of an exported mock PKI.
struct ExportedMockTdx {
  std::shared_ptr<tdx::TdxVerifier> verifier;
  std::shared_ptr<tdx::StaticCollateralSource> source;
  tdx::TrustAnchorsPtr anchors;
};

/// Reads a directory written by MockTdxPki::export_to. tdx_mock.import_failed (or a tdx.*
/// collateral error) otherwise.
Outcome<ExportedMockTdx> load_exported_mock_tdx(const std::filesystem::path& directory);

/// A verifier for quotes of a PKI written by MockTdxPki::save (reads only tdx-root.crt and
/// tdx-collateral.json: a verifying process needs no key). Trusts ONLY that mock root.
Outcome<ExportedMockTdx> load_mock_tdx_verifier(const std::filesystem::path& directory);

/// Quote measurements from a JSON object with optional hex members "mrtd", "rtmr0".."rtmr3"
/// (48 bytes each), applied to `options`. Unknown members are rejected so that a typo does not
/// silently leave a register zero. tdx_mock.invalid_options with the member otherwise.
Outcome<void> apply_mock_tdx_measurements(std::string_view json_text, MockTdxQuoteOptions& options);

}  // namespace atls::attest::mock
