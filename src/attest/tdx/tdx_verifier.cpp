#include "attest/tdx/tdx_verifier.h"

#include "attest/tdx/errors.h"

namespace atls::attest::tdx {

TdxVerifier::TdxVerifier(CollateralSourcePtr source, TdxVerifierOptions options)
    : source_(std::move(source)) {
  TrustAnchorsPtr anchors = std::move(options.trust_anchors);
  if (!anchors) {
    auto production = TrustAnchors::intel_production();
    if (!production) {
      // A corrupted build: fail closed on every verification.
      init_error_ = production.error();
      return;
    }
    anchors = *production;
  }
  quote_verifier_ = std::make_unique<QuoteVerifier>(std::move(anchors));
}

bool TdxVerifier::handles(AttestationType type) const noexcept {
  return type == AttestationType::DcapTdx || type == AttestationType::GcpTdx ||
         type == AttestationType::QemuTdx;
}

Outcome<TdxVerification> TdxVerifier::verify_detailed(AttestationType type, ByteView evidence,
                                                      const ReportData& expected_report_data,
                                                      SystemTime now) const {
  if (!handles(type)) {
    return Failure{make_error_code(Errc::UnsupportedAttestationType), std::string(to_string(type))};
  }
  if (init_error_) {
    return *init_error_;
  }
  if (!source_) {
    return Failure{make_error_code(Errc::CollateralUnavailable), "no collateral source"};
  }
  auto prepared = quote_verifier_->prepare(evidence);
  if (!prepared) {
    return prepared.error();
  }
  // A PCK chain that does not lead to a trusted root is rejected before the collateral lookup:
  // its FMSPC is then attacker-chosen, and a fetching source must not be made to fetch (and
  // hold a cache slot) for it. This reports step 5's failure ahead of steps 0-4 only for quotes
  // whose chain is untrusted anyway.
  if (prepared->pck->validation_error) {
    return *prepared->pck->validation_error;
  }
  auto collateral = source_->collateral(prepared->fmspc(), prepared->ca_type());
  if (!collateral) {
    return collateral.error();
  }
  return quote_verifier_->verify(*prepared, **collateral, now, expected_report_data);
}

Result<VerifiedClaims> TdxVerifier::verify(AttestationType type, ByteView evidence,
                                           const ReportData& expected_report_data,
                                           SystemTime now) const {
  auto verification = verify_detailed(type, evidence, expected_report_data, now);
  if (!verification) {
    return verification.error().code;
  }
  return to_claims(type, *verification);
}

VerifiedClaims TdxVerifier::to_claims(AttestationType type, const TdxVerification& verification) {
  VerifiedClaims claims;
  claims.type = type;
  claims.measurements = verification.measurements;
  claims.report_data = verification.report_data;
  claims.tcb_status = std::string(to_string(verification.status));
  claims.advisory_ids = verification.tcb.advisory_ids;
  claims.tdx = verification.claims;
  return claims;
}

}  // namespace atls::attest::tdx
