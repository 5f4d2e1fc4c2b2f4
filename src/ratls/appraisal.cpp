#include "ratls/appraisal.h"

#include <fmt/format.h>

#include "ratls/errors.h"

namespace atls::ratls {

using attest::AttestationType;

Appraiser::Appraiser(std::shared_ptr<const policy::MeasurementPolicy> policy,
                     std::vector<attest::VerifierPtr> verifiers)
    : policy_(std::move(policy)), verifiers_(std::move(verifiers)) {}

const attest::Verifier* Appraiser::verifier_for(AttestationType type) const noexcept {
  for (const auto& verifier : verifiers_) {
    if (verifier->handles(type)) {
      return verifier.get();
    }
  }
  return nullptr;
}

bool Appraiser::needs_verification(AttestationType type) const noexcept {
  if (type == AttestationType::None || verifier_for(type) == nullptr) {
    return false;
  }
  // With none accepted and no record for the family the evidence is irrelevant (see header).
  return !(accepts_none() && !policy_->has_family(attest::family_of(type)));
}

Outcome<void> Appraiser::still_accepts(const PeerAttestation& peer) const {
  if (!peer.claims) {
    if (accepts_none()) {
      return {};
    }
    return Failure{
        make_error_code(Errc::AttestationTypeNotAccepted),
        fmt::format("unattested peer; policy {} now requires attestation", policy_->source())};
  }
  const attest::VerifiedClaims& claims = *peer.claims;
  if (const auto& tcb = policy_->tcb_status_policy(); !tcb.accepts(claims.tcb_status)) {
    return Failure{
        make_error_code(Errc::TcbStatusNotAccepted),
        fmt::format("TCB status {} (accepted now: {})", claims.tcb_status, tcb.describe())};
  }
  const policy::Evaluation evaluation = policy_->evaluate(claims);
  if (!evaluation.matched) {
    return Failure{make_error_code(Errc::MeasurementsNotAccepted),
                   policy_->describe(evaluation, claims)};
  }
  return {};
}

Outcome<PeerAttestation> Appraiser::appraise(const AttestationMessage& message,
                                             const attest::ReportData& expected_report_data,
                                             SystemTime now) const {
  PeerAttestation peer;
  peer.claimed_type = message.type;
  const std::string_view type_name = attest::to_string(message.type);

  if (message.type == AttestationType::None) {
    if (!accepts_none()) {
      return Failure{
          make_error_code(Errc::AttestationTypeNotAccepted),
          fmt::format("peer sent no attestation; policy {} requires one", policy_->source())};
    }
    if (!message.evidence.empty()) {
      return Failure{make_error_code(Errc::AttestationGivenWhenNoneExpected),
                     fmt::format("{} evidence bytes", message.evidence.size())};
    }
    return peer;
  }

  const attest::Family family = attest::family_of(message.type);
  const attest::Verifier* verifier = verifier_for(message.type);
  if (verifier == nullptr) {
    if (accepts_none()) {
      peer.downgrade_reason = fmt::format("no verifier for {}", type_name);
      return peer;
    }
    return Failure{make_error_code(Errc::AttestationTypeNotSupported),
                   fmt::format("{} evidence cannot be verified by this build", type_name)};
  }
  if (accepts_none() && !policy_->has_family(family)) {
    peer.downgrade_reason = fmt::format("policy has no {} record", type_name);
    return peer;
  }

  auto claims = verifier->verify(message.type, message.evidence, expected_report_data, now);
  if (!claims) {
    return Failure{claims.error(), fmt::format("{} evidence rejected by the {} verifier", type_name,
                                               verifier->name())};
  }
  // TCB status is policy, not verification (the verifier already rejected Revoked).
  if (const auto& tcb = policy_->tcb_status_policy(); !tcb.accepts(claims->tcb_status)) {
    std::string detail =
        fmt::format("TCB status {} (accepted: {})", claims->tcb_status, tcb.describe());
    if (!claims->advisory_ids.empty()) {
      detail += "; advisories:";
      for (const auto& id : claims->advisory_ids) {
        detail += " " + id;
      }
    }
    if (accepts_none()) {
      peer.downgrade_reason = detail;
      return peer;
    }
    return Failure{make_error_code(Errc::TcbStatusNotAccepted), std::move(detail)};
  }
  const policy::Evaluation evaluation = policy_->evaluate(*claims);
  if (!evaluation.matched) {
    std::string detail = policy_->describe(evaluation, *claims);
    if (accepts_none()) {
      peer.downgrade_reason = "measurements not accepted: " + detail;
      return peer;
    }
    return Failure{make_error_code(Errc::MeasurementsNotAccepted), std::move(detail)};
  }
  peer.matched_record = policy_->records()[*evaluation.matched].label();
  peer.matched_measurement_id = policy_->records()[*evaluation.matched].measurement_id;
  peer.claims = std::move(*claims);
  return peer;
}

}  // namespace atls::ratls
