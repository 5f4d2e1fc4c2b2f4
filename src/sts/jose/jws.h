#pragma once
// Compact JWS (RFC 7515 §7.1) with the asymmetric algorithms this service uses: ES256, ES384
// (RFC 7518 §3.4) and EdDSA over Ed25519 (RFC 8037 §3.1; "Ed25519" is the fully-specified name
// of RFC 9864).
//
// Parsing follows RFC 8725 (JWT BCP): the caller states which algorithms it accepts (§3.1), a
// key is used only with the one algorithm that fits it (§3.1, algorithm confusion), "none" and
// MAC algorithms never verify here, and "crit" is refused since no extension is understood
// (RFC 7515 §4.1.11).

#include <array>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "sts/jose/jwk.h"
#include "tls/ossl.h"

namespace atls::sts::jose {

enum class Algorithm { ES256, ES384, Ed25519 };

/// Every algorithm this module implements.
inline constexpr std::array<Algorithm, 3> kAllAlgorithms{Algorithm::ES256, Algorithm::ES384,
                                                         Algorithm::Ed25519};

/// "ES256", "ES384"; both "EdDSA" (RFC 8037) and "Ed25519" (RFC 9864) give Ed25519. Anything
/// else ("none", "HS256", "RS256", ...) is nullopt.
std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept;

/// The name emitted in "alg": "ES256", "ES384", "EdDSA" (the Ed25519 name most verifiers know).
std::string_view algorithm_name(Algorithm alg) noexcept;

/// The one curve an algorithm signs with (ES256: P-256, ES384: P-384, Ed25519: Ed25519).
Curve curve_of(Algorithm alg) noexcept;

/// A parsed, not yet verified, compact JWS.
struct CompactJws {
  nlohmann::json header;      ///< the protected header (a JSON object)
  Algorithm algorithm;        ///< from "alg", on the caller's allowlist
  std::string payload;        ///< decoded payload bytes
  Bytes signature;            ///< decoded signature bytes
  std::string signing_input;  ///< ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
};

/// Larger tokens are refused before any decoding (a DPoP proof or access token is < 2 KiB).
inline constexpr std::size_t kMaxCompactJwsSize = std::size_t{16} * 1024;

/// Splits and decodes a compact JWS and checks its header.
/// Errors: jose.jws_malformed (size, not three parts, an empty part), jose.base64url_invalid,
/// jose.header_invalid (not an object, duplicate member, no string "alg", "crit" present),
/// jose.algorithm_not_allowed ("alg" unknown, "none", HMAC, or not in `allowed`).
Result<CompactJws> parse_compact(std::string_view token, std::span<const Algorithm> allowed);

/// The payload as a JSON object (duplicate members refused). Error: jose.payload_invalid.
Result<nlohmann::json> payload_object(const CompactJws& jws);

/// Verifies the signature with `key`. ES256/ES384 signatures are the raw R || S of exactly 64 or
/// 96 bytes (RFC 7518 §3.4), never DER. Errors: jose.algorithm_key_mismatch (the algorithm does
/// not fit the key's curve), jose.signature_invalid.
Result<void> verify_signature(const CompactJws& jws, const PublicJwk& key);

/// A private signing key and its algorithm. Copies share the one immutable OpenSSL key; signing
/// is safe from several threads at once.
class Signer {
 public:
  /// A fresh key: ES256 on P-256, ES384 on P-384, Ed25519. Error: jose.key_generation_failed.
  static Result<Signer> generate(Algorithm alg);
  /// Wraps an existing private key; the algorithm follows from it (P-256: ES256, P-384: ES384,
  /// Ed25519). Errors: jose.jwk_unsupported (other types/curves), jose.jwk_invalid (null key or
  /// no private part).
  static Result<Signer> from_private_key(tls::EvpPkeyPtr key);

  Algorithm algorithm() const noexcept { return algorithm_; }
  const PublicJwk& public_jwk() const noexcept { return public_jwk_; }
  EVP_PKEY* private_key() const noexcept { return key_.get(); }

  /// BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature), with "alg" set in `header`
  /// (any "alg" given is replaced). ES* signatures are the fixed-width raw R || S.
  /// Errors: jose.header_invalid (header not an object or not serialisable), jose.signing_failed.
  Result<std::string> sign_compact(nlohmann::json header, std::string_view payload) const;

  /// The JWS signature over `signing_input` (raw R || S for ES*). Error: jose.signing_failed.
  Result<Bytes> sign(std::string_view signing_input) const;

 private:
  Signer(Algorithm algorithm, std::shared_ptr<EVP_PKEY> key, PublicJwk public_jwk)
      : algorithm_(algorithm), key_(std::move(key)), public_jwk_(std::move(public_jwk)) {}

  Algorithm algorithm_;
  std::shared_ptr<EVP_PKEY> key_;
  PublicJwk public_jwk_;
};

}  // namespace atls::sts::jose
