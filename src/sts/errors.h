#pragma once
// Named failures of the token service (RFC 8693 token exchange, docs/token-service.md). The
// JOSE and DPoP layers have their own categories (sts/jose/errors.h, sts/dpop/errors.h); the
// attestation appraisal reports the verifier's and the policy's codes unchanged.

#include "core/error.h"

namespace atls::sts {

enum class Errc {
  /// The body is not application/x-www-form-urlencoded, is too large, has a bad
  /// percent-escape, or repeats a parameter that may appear once (RFC 6749 §3.2).
  FormMalformed = 1,
  /// grant_type is missing or not token exchange (RFC 8693 §2.1).
  UnsupportedGrantType,
  /// subject_token or subject_token_type is missing.
  SubjectTokenMissing,
  /// subject_token_type is not the attestation token type this service exchanges.
  SubjectTokenTypeUnsupported,
  /// subject_token is not base64url of one attestation message.
  SubjectTokenMalformed,
  /// The requester's evidence is of type none: a token is never issued without attestation.
  RequesterUnattested,
  /// audience or resource names a target this service does not issue tokens for (RFC 8693
  /// §2.2.2 invalid_target).
  InvalidTarget,
  /// requested_token_type is not an access token or a JWT.
  RequestedTokenTypeUnsupported,
  /// actor_token (delegation, RFC 8693 §1.1) is not supported.
  ActorTokenUnsupported,
  /// scope was requested; this service grants no scopes (RFC 6749 §5.2 invalid_scope).
  ScopeUnsupported,
  /// The token could not be signed.
  SigningFailed,
};

ATLS_DECLARE_ERRC(Errc, sts_category)

}  // namespace atls::sts

ATLS_REGISTER_ERRC(atls::sts::Errc);
