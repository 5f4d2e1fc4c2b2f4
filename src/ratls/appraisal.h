#pragma once
// Appraisal of the peer's attestation message: verification (is the evidence genuine?) followed
// by policy (is it a workload we accept?), with the decision rules of interop spec §5.1.
//
// Rules (docs/policy.md has the full table):
//  * `none` from the peer: accepted only if the policy has a `none` record, and only with empty
//    evidence (AttestationTypeNotAccepted / AttestationGivenWhenNoneExpected).
//  * Any other type: verified by the verifier that handles it; a verification failure rejects
//    the peer with the verifier's named error. The verified claims must then match a policy
//    record of the same family (MeasurementsNotAccepted, listing every mismatch).
//  * When the policy also accepts `none`, an attesting peer that cannot be appraised (no
//    verifier, no record of its family, measurements not matched) is accepted as *unattested*:
//    no claims are reported for it, so no measurement header is ever derived from unverified or
//    unaccepted evidence. Evidence that fails verification is still rejected (fail closed).
// flashbots instead skips server-side verification entirely when its policy accepts none and
// forwards the claimed type unverified (§12 quirk 1); this implementation never reports a type
// it did not verify.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attest/claims.h"
#include "attest/verifier.h"
#include "core/clock.h"
#include "core/error.h"
#include "policy/measurement_policy.h"
#include "ratls/message.h"

namespace atls::ratls {

struct PeerAttestation {
  /// Type string the peer sent.
  attest::AttestationType claimed_type = attest::AttestationType::None;
  /// Verified claims; set only when the evidence verified and matched a policy record.
  std::optional<attest::VerifiedClaims> claims;
  /// Label of the matching record (empty when unattested).
  std::string matched_record;
  /// The matching record's measurement_id (empty when unattested or the record has none).
  std::string matched_measurement_id;
  /// Why an attesting peer was accepted as unattested (for logs); empty otherwise.
  std::string downgrade_reason;

  bool attested() const noexcept { return claims.has_value(); }
  /// The attestation type to report downstream: the verified type, or none.
  attest::AttestationType reported_type() const noexcept {
    return claims ? claims->type : attest::AttestationType::None;
  }
};

class Appraiser {
 public:
  Appraiser(std::shared_ptr<const policy::MeasurementPolicy> policy,
            std::vector<attest::VerifierPtr> verifiers);

  /// Whether the policy accepts unattested peers.
  bool accepts_none() const noexcept { return policy_->accepts_none(); }

  /// Whether appraising `type` runs a verifier (callers move that work off the I/O thread).
  bool needs_verification(attest::AttestationType type) const noexcept;

  /// Appraises `message`, whose evidence must bind `expected_report_data`, at time `now`.
  /// Pure computation; thread-safe.
  Outcome<PeerAttestation> appraise(const AttestationMessage& message,
                                    const attest::ReportData& expected_report_data,
                                    SystemTime now) const;

  /// Whether a peer appraised earlier (under another policy) would still be accepted exactly as
  /// it was — used after a policy reload to re-check open channels. Evidence is not verified
  /// again (verification facts do not depend on the policy); the peer's verified claims are
  /// matched against this policy. An attested peer must still match a record (being
  /// downgraded to unattested would change what its channel reports); an unattested peer needs
  /// a `none` record. Errors: the appraisal error the peer would get now.
  Outcome<void> still_accepts(const PeerAttestation& peer) const;

  const policy::MeasurementPolicy& policy() const noexcept { return *policy_; }

 private:
  const attest::Verifier* verifier_for(attest::AttestationType type) const noexcept;

  std::shared_ptr<const policy::MeasurementPolicy> policy_;
  std::vector<attest::VerifierPtr> verifiers_;
};

}  // namespace atls::ratls
