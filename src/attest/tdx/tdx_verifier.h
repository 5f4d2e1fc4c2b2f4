#pragma once
// attest::Verifier for raw TDX DCAP quotes: dcap-tdx, gcp-tdx and qemu-tdx evidence (interop
// spec §4.1 — the three types share one verification path, §5.2 / §5.4).

#include <memory>

#include "attest/tdx/collateral_source.h"
#include "attest/tdx/quote_verifier.h"
#include "attest/tdx/trust.h"
#include "attest/verifier.h"

namespace atls::attest::tdx {

struct TdxVerifierOptions {
  /// Trust anchors. nullptr = the pinned production Intel SGX Root CA only (the default; the
  /// only setting production code uses). Tests and the mock TEE pass
  /// TrustAnchors::insecure_test_roots_for_testing(...).
  TrustAnchorsPtr trust_anchors;
};

class TdxVerifier final : public Verifier {
 public:
  /// @param source cached collateral (no I/O at verification time); must not be null.
  TdxVerifier(CollateralSourcePtr source, TdxVerifierOptions options = {});

  std::string_view name() const noexcept override { return "dcap"; }
  bool handles(AttestationType type) const noexcept override;

  /// Parses the quote, finds collateral for its FMSPC and PCK CA, and runs every check of
  /// QuoteVerifier::verify (Azure override off). Errors are tdx.* codes (README.md lists them).
  /// @par Thread Safety
  /// Safe to call concurrently.
  Result<VerifiedClaims> verify(AttestationType type, ByteView evidence,
                                const ReportData& expected_report_data,
                                SystemTime now) const override;

  /// Like verify(), keeping the failure detail and the full verification result.
  Outcome<TdxVerification> verify_detailed(AttestationType type, ByteView evidence,
                                           const ReportData& expected_report_data,
                                           SystemTime now) const;

  /// Claims as verify() reports them.
  static VerifiedClaims to_claims(AttestationType type, const TdxVerification& verification);

  const QuoteVerifier* quote_verifier() const noexcept { return quote_verifier_.get(); }

 private:
  CollateralSourcePtr source_;
  std::unique_ptr<QuoteVerifier> quote_verifier_;
  std::optional<Failure> init_error_;
};

}  // namespace atls::attest::tdx
