#pragma once
// Named failures of the JOSE layer: base64url (RFC 7515 §2), compact JWS (RFC 7515 §7.1), JWK
// (RFC 7517, RFC 7518 §6, RFC 8037 §2) and the signature algorithms (RFC 7518 §3.4, RFC 8037
// §3.1). Every way untrusted input can be refused has its own code, so a rejected token is
// explained by a stable name (RFC 8725 asks verifiers to be strict; the names say how).

#include "core/error.h"

namespace atls::sts::jose {

enum class Errc {
  /// Not canonical unpadded base64url: a character outside A-Z a-z 0-9 - _, padding,
  /// whitespace, an impossible length, or non-zero unused trailing bits.
  Base64urlInvalid = 1,
  /// Not three non-empty dot-separated parts, or larger than kMaxCompactJwsSize.
  JwsMalformed,
  /// The protected header is not a JSON object, repeats a member, lacks a string "alg", or
  /// carries "crit" (no extension is understood, RFC 7515 §4.1.11).
  HeaderInvalid,
  /// The payload is not a JSON object where claims are expected.
  PayloadInvalid,
  /// "alg" is not on the caller's allowlist ("none", HMAC and unknown names never are).
  AlgorithmNotAllowed,
  /// "alg" does not fit the key's type or curve (algorithm confusion, RFC 8725 §3.1).
  AlgorithmKeyMismatch,
  /// The JWK is not an object, or a required member is missing or of the wrong type.
  JwkInvalid,
  /// The JWK's kty or crv is not one this implementation uses (EC P-256/P-384, OKP Ed25519).
  JwkUnsupported,
  /// The JWK carries private key material (RFC 7517 §9.2: a public JWK must not).
  JwkPrivate,
  /// A coordinate has the wrong fixed length, or the point is not on the curve.
  JwkPointInvalid,
  /// The signature is malformed or does not verify.
  SignatureInvalid,
  /// The signer could not produce a signature (OpenSSL failure, no randomness, bad header).
  SigningFailed,
  /// A new signing key could not be generated.
  KeyGenerationFailed,
};

ATLS_DECLARE_ERRC(Errc, jose_category)

}  // namespace atls::sts::jose

ATLS_REGISTER_ERRC(atls::sts::jose::Errc);
