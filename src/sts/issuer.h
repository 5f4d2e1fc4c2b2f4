#pragma once
// Access tokens for attested workloads: RFC 9068 JWT access tokens (typ "at+jwt") bound to the
// requester's DPoP key (RFC 9449 §6.1, cnf.jkt) and carrying the verified attestation facts
// (docs/token-service.md lists every claim).

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "ratls/appraisal.h"
#include "sts/jose/jws.h"

namespace atls::sts {

struct IssuerOptions {
  /// "iss": the token service's own URL (RFC 8414 §2).
  std::string issuer;
  /// Audiences tokens may be issued for; the first is used when a request names none.
  std::vector<std::string> audiences;
  /// Lifetime of a token ("exp" - "iat"). The seed asks for at most an hour.
  std::chrono::seconds ttl{300};
};

/// What the token is issued for: the appraised requester and the key it proved possession of.
struct TokenSubject {
  const ratls::PeerAttestation* peer = nullptr;  ///< attested (claims set)
  std::string evidence_sha256;                   ///< hex, of the evidence bytes
  std::string key_thumbprint;                    ///< RFC 7638, base64url
};

struct IssuedToken {
  std::string access_token;
  std::string jti;
  std::string audience;
  std::chrono::seconds expires_in{};
};

class TokenIssuer {
 public:
  TokenIssuer(jose::Signer signer, IssuerOptions options);

  /// Chooses the audience: the requested targets must all be allowed audiences, and exactly
  /// one target (or none: the default audience) may be requested. Errors: sts.invalid_target.
  Outcome<std::string> choose_audience(const std::vector<std::string>& targets) const;

  /// Signs a token for `subject` valid from `now` for the configured TTL. Errors:
  /// sts.requester_unattested (no verified claims), sts.signing_failed.
  Outcome<IssuedToken> issue(const TokenSubject& subject, const std::string& audience,
                             SystemTime now) const;

  /// The signing key as a JWK Set (RFC 7517 §5), for resource servers.
  nlohmann::json jwks() const;
  /// "kid" of the signing key: its RFC 7638 thumbprint.
  const std::string& key_id() const noexcept { return key_id_; }
  jose::Algorithm algorithm() const noexcept { return signer_.algorithm(); }
  const IssuerOptions& options() const noexcept { return options_; }

 private:
  jose::Signer signer_;
  IssuerOptions options_;
  std::string key_id_;
};

}  // namespace atls::sts
