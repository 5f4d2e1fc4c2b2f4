#pragma once
// DCAP verification of a TDX quote against collateral (no I/O, `now` injected), in the order of
// docs/verification.md §1.3 and interop spec §5.2 step 3; src/attest/tdx/README.md lists every
// step with its error code.
//
// Caching: results that depend only on bytes (collateral signatures and chains, the PCK chain's
// path validation and extension, a QE report signature, an imported attestation key) are
// memoised, keyed by SHA-256 of everything they depend on (and valid for the lifetime of this
// object, whose trust anchors are fixed). Nothing that depends on `now` (validity windows, CRL
// and collateral freshness) or on other quote bytes (quote signature, binding, TCB, REPORTDATA)
// is ever skipped: those checks run on every call.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "attest/claims.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/tcb_evaluation.h"
#include "attest/tdx/tdx_claims.h"
#include "attest/tdx/trust.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::tdx {

/// Validity interval of one certificate.
struct CertWindow {
  SystemTime not_before;
  SystemTime not_after;
  std::string subject;  ///< CN, for error details
};

/// The PCK chain of a quote, parsed and (time-independently) validated against the anchors.
struct PckChain {
  std::vector<tls::X509Ptr> certs;  ///< leaf, PCK CA, root
  PckExtension extension;
  PckCaType ca_type = PckCaType::Processor;
  std::vector<CertWindow> windows;  ///< per certificate, leaf first
  /// The anchor the chain ends in (nullptr when `validation_error` is set).
  const TrustAnchors::Anchor* anchor = nullptr;
  /// Path validation failure (root not trusted, bad signature, constraints): reported at its
  /// place in the check order, after the collateral checks.
  std::optional<Failure> validation_error;
  Sha256 digest{};  ///< SHA-256 of the PEM text
};

using PckChainPtr = std::shared_ptr<const PckChain>;

/// A parsed quote plus its PCK chain: everything needed to look collateral up.
struct PreparedQuote {
  Quote quote;
  PckChainPtr pck;
  Fmspc fmspc() const noexcept { return pck->extension.fmspc; }
  PckCaType ca_type() const noexcept { return pck->ca_type; }
};

struct VerifyOptions {
  /// Azure outdated-TCB override (interop §5.2.1). Off by default; only the azure-tdx verifier
  /// passes true (flashbots hard-codes it off for dcap-tdx / gcp-tdx / qemu-tdx evidence).
  bool azure_outdated_tcb_override = false;
};

/// Everything a successful verification established.
struct TdxVerification {
  TdxClaims claims;           ///< statuses, SVNs, FMSPC, TD fields
  Measurements measurements;  ///< {0: MRTD, 1..4: RTMR0..3}, 48 bytes each
  ReportData report_data{};
  TcbStatus status = TcbStatus::UpToDate;
  TcbEvaluation tcb;
  PckExtension pck;
  PckCaType ca_type = PckCaType::Processor;
};

class QuoteVerifier final {
 public:
  explicit QuoteVerifier(TrustAnchorsPtr anchors);

  QuoteVerifier(const QuoteVerifier&) = delete;
  QuoteVerifier& operator=(const QuoteVerifier&) = delete;

  /// Parses the quote and its PCK chain (certificates, SGX extension, CA type). Path
  /// validation is done (and cached) here but reported by verify().
  /// @return tdx.* parse errors, tdx.pck_chain_malformed, tdx.pck_chain_length_invalid,
  ///   tdx.pck_extension_missing, tdx.pck_extension_malformed, tdx.pck_ca_type_unknown.
  Outcome<PreparedQuote> prepare(ByteView quote_bytes) const;

  /// Full verification of a prepared quote against `collateral` at `now`, ending with
  /// REPORTDATA == `expected_report_data`. TCB statuses other than Revoked are returned, not
  /// rejected (policy decides).
  /// @par Thread Safety
  /// Safe to call concurrently.
  Outcome<TdxVerification> verify(const PreparedQuote& prepared, const Collateral& collateral,
                                  SystemTime now, const ReportData& expected_report_data,
                                  const VerifyOptions& options = {}) const;

  /// prepare() + verify().
  Outcome<TdxVerification> verify(ByteView quote_bytes, const Collateral& collateral,
                                  SystemTime now, const ReportData& expected_report_data,
                                  const VerifyOptions& options = {}) const;

  /// Checks collateral alone (steps 1-4 of the README order: root CRL, PCK CRL, TCB info, QE
  /// identity — chains to the anchors, signatures, freshness at `now`, TDX ids/versions), as a
  /// collateral service does before caching a fetched bundle.
  Outcome<void> verify_collateral(const Collateral& collateral, SystemTime now) const;

  /// Collateral checks without the TDX id/version requirements (e.g. SGX TCB info v2 of
  /// Intel's QVL sample data, which this verifier otherwise rejects).
  Outcome<void> verify_collateral_signatures(const Collateral& collateral, SystemTime now) const;

  const TrustAnchors& anchors() const noexcept { return *anchors_; }

 private:
  struct CollateralState;

  std::shared_ptr<const CollateralState> collateral_state(const Collateral& collateral) const;
  Outcome<PckChainPtr> pck_chain(const std::string& pem) const;
  Outcome<void> check_collateral(const Collateral& collateral, const CollateralState& state,
                                 SystemTime now, bool require_tdx) const;
  bool qe_report_signature_valid(const Quote& quote, const PckChain& chain) const;
  std::shared_ptr<EVP_PKEY> attestation_key(const Quote& quote) const;

  TrustAnchorsPtr anchors_;
  mutable std::mutex collateral_mutex_;
  mutable std::map<Sha256, std::shared_ptr<const CollateralState>> collateral_cache_;
  mutable std::mutex chain_mutex_;
  mutable std::map<Sha256, Outcome<PckChainPtr>> chain_cache_;
  mutable std::mutex qe_mutex_;
  mutable std::set<Sha256> verified_qe_reports_;
  mutable std::mutex key_mutex_;
  mutable std::map<std::array<std::uint8_t, 64>, std::shared_ptr<EVP_PKEY>> key_cache_;
};

/// TD attribute and MR_SERVICETD checks of interop §5.2 step 13 (dcap-qvl validate_attrs):
/// tdx.mr_servicetd_not_zero, tdx.td_attributes_invalid, tdx.td_debug_enabled,
/// tdx.td_sept_ve_disable_missing.
Outcome<void> check_td_attributes(const Quote& quote);

}  // namespace atls::attest::tdx
