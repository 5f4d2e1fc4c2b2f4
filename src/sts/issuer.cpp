#include "sts/issuer.h"

#include <openssl/rand.h>

#include <algorithm>

#include "attest/attestation_type.h"
#include "core/bytes.h"
#include "core/digest.h"
#include "ops/channel_recorder.h"
#include "sts/errors.h"
#include "sts/jose/base64url.h"

namespace atls::sts {
namespace {

Failure issuer_failure(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::int64_t unix_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

TokenIssuer::TokenIssuer(jose::Signer signer, IssuerOptions options)
    : signer_(std::move(signer)),
      options_(std::move(options)),
      key_id_(signer_.public_jwk().thumbprint()) {}

Outcome<std::string> TokenIssuer::choose_audience(const std::vector<std::string>& targets) const {
  if (targets.empty()) {
    if (options_.audiences.empty()) {
      return issuer_failure(Errc::InvalidTarget, "no audience configured");
    }
    return options_.audiences.front();
  }
  // One token has one audience: a token valid at several resource servers could be replayed
  // by any of them at the others (RFC 8707 §2 recommends audience-restricted tokens).
  if (targets.size() > 1) {
    return issuer_failure(Errc::InvalidTarget, "more than one audience or resource requested");
  }
  if (std::find(options_.audiences.begin(), options_.audiences.end(), targets.front()) ==
      options_.audiences.end()) {
    return issuer_failure(Errc::InvalidTarget, "audience not served");
  }
  return targets.front();
}

Outcome<IssuedToken> TokenIssuer::issue(const TokenSubject& subject, const std::string& audience,
                                        SystemTime now) const {
  if (subject.peer == nullptr || !subject.peer->attested()) {
    return issuer_failure(Errc::RequesterUnattested);
  }
  const attest::VerifiedClaims& claims = *subject.peer->claims;

  std::array<std::uint8_t, 16> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return issuer_failure(Errc::SigningFailed, "no randomness for jti");
  }
  IssuedToken token;
  token.jti = jose::base64url_encode(random);
  token.audience = audience;
  token.expires_in = options_.ttl;

  const std::int64_t issued_at = unix_seconds(now);
  nlohmann::json attestation{
      {"attestation_type", std::string(attest::to_string(claims.type))},
      {"measurements", ops::measurements_json(claims.measurements)},
      {"policy_record", subject.peer->matched_record},
      {"evidence_sha256", subject.evidence_sha256},
  };
  if (!claims.tcb_status.empty()) {
    attestation["tcb_status"] = claims.tcb_status;
  }
  if (!claims.advisory_ids.empty()) {
    attestation["advisory_ids"] = claims.advisory_ids;
  }
  // RFC 9068 §2.2 claims. "sub" names the workload: the measurement_id of the policy record it
  // matched (what the operator calls it), else the type and a digest of its measurements (stable
  // for one build of the workload). "client_id" is the DPoP key, the only client identity there
  // is: the requester is not registered, it is identified by its attested key.
  std::string workload = subject.peer->matched_measurement_id;
  if (workload.empty()) {
    workload = std::string(attest::to_string(claims.type)) + ":" +
               sha256_hex(attest::measurements_to_json(claims.measurements));
  }
  const nlohmann::json payload{
      {"iss", options_.issuer},
      {"sub", workload},
      {"aud", audience},
      {"iat", issued_at},
      {"nbf", issued_at},
      {"exp", issued_at + options_.ttl.count()},
      {"jti", token.jti},
      {"client_id", subject.key_thumbprint},
      {"cnf", {{"jkt", subject.key_thumbprint}}},
      {"atls", std::move(attestation)},
  };
  const nlohmann::json header{{"typ", "at+jwt"}, {"kid", key_id_}};
  auto signed_token = signer_.sign_compact(header, payload.dump());
  if (!signed_token) {
    return issuer_failure(Errc::SigningFailed, error_id(signed_token.error()));
  }
  token.access_token = std::move(*signed_token);
  return token;
}

nlohmann::json TokenIssuer::jwks() const {
  nlohmann::json key = signer_.public_jwk().to_json();
  key["kid"] = key_id_;
  key["use"] = "sig";
  key["alg"] = std::string(jose::algorithm_name(signer_.algorithm()));
  return nlohmann::json{{"keys", nlohmann::json::array({std::move(key)})}};
}

}  // namespace atls::sts
