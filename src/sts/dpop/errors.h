#pragma once
// Named failures of DPoP proof checking (RFC 9449 §4.3) and creation. Failures inside the JOSE
// layer are reported under these codes too (with the jose error id in the Failure detail), so a
// caller maps one category onto the RFC 9449 §7.1 / §12.2 error responses: use_dpop_nonce for
// nonce_required and nonce_invalid, invalid_dpop_proof for the rest.

#include "core/error.h"

namespace atls::sts::dpop {

enum class Errc {
  /// The request has no DPoP header field.
  ProofMissing = 1,
  /// The request has more than one DPoP header field (§4.3 check 1).
  ProofMultiple,
  /// The header value is not a compact JWS whose header and payload are JSON objects (check 2).
  ProofMalformed,
  /// "typ" is not exactly "dpop+jwt" (check 4).
  TypInvalid,
  /// "alg" is not an allowed asymmetric algorithm (check 5).
  AlgorithmNotAllowed,
  /// "jwk" is missing, not a valid public key, contains a private key (check 7), or does not fit
  /// "alg".
  JwkInvalid,
  /// The signature does not verify with "jwk" (check 6).
  SignatureInvalid,
  /// jti, htm, htu or iat is missing or not of the right JSON type (check 3).
  ClaimMissing,
  /// "htm" is not the request's method (check 8).
  MethodMismatch,
  /// "htu" is not the request's URI after normalisation (check 9).
  UriMismatch,
  /// "iat" is older than the accepted window (check 11).
  IatTooOld,
  /// "iat" is further in the future than the allowed clock skew (check 11).
  IatInFuture,
  /// A proof with this jti was already accepted for this key (§11.1).
  Replayed,
  /// The server requires a nonce and the proof has none (§8).
  NonceRequired,
  /// The nonce is not one this server issued recently, or is not a nonce at all (§8, check 10).
  NonceInvalid,
  /// "ath" is missing or is not the hash of the presented access token (check 12).
  AthMismatch,
  /// The server's own expected URI, or the URI a client asks a proof for, is not an absolute
  /// http(s) URI.
  UriInvalid,
  /// The method a client asks a proof for is not an HTTP token (RFC 9110 §9.1).
  MethodInvalid,
};

ATLS_DECLARE_ERRC(Errc, dpop_category)

}  // namespace atls::sts::dpop

ATLS_REGISTER_ERRC(atls::sts::dpop::Errc);
