#pragma once
// Public JSON Web Keys (RFC 7517) for the signature algorithms this service uses: EC P-256 and
// P-384 (RFC 7518 §6.2) and OKP Ed25519 (RFC 8037 §2), and their RFC 7638 thumbprints (the
// "jkt" that binds a DPoP key to a token, RFC 9449 §6.1).
//
// Import is strict because a JWK usually arrives inside an untrusted token (the DPoP "jwk"
// header, RFC 9449 §4.2): exact coordinate lengths, the point validated by OpenSSL, and any
// private member refused rather than ignored (RFC 7517 §9.2).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/bytes.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::sts::jose {

enum class Curve { P256, P384, Ed25519 };

/// "P-256", "P-384", "Ed25519" (the JWK "crv" names).
std::string_view curve_name(Curve curve) noexcept;

/// An imported public key. Copies share the one immutable OpenSSL key, which OpenSSL allows
/// to be used by several threads at once.
class PublicJwk {
 public:
  Curve curve() const noexcept { return curve_; }
  /// The OpenSSL key (public part only); owned by this object and its copies.
  EVP_PKEY* key() const noexcept { return key_.get(); }

  /// The minimal public JWK: {"kty","crv","x"} plus "y" for EC keys.
  nlohmann::json to_json() const;
  /// RFC 7638 §3: base64url(SHA-256 of the required members in lexicographic order, no
  /// whitespace).
  std::string thumbprint() const;
  /// The 32 raw SHA-256 bytes behind thumbprint().
  Bytes thumbprint_bytes() const;

  /// The raw coordinates: x and y of an EC point (32 or 48 bytes each), or the 32-byte Ed25519
  /// public key as x with y empty.
  const Bytes& x() const noexcept { return x_; }
  const Bytes& y() const noexcept { return y_; }

  friend bool operator==(const PublicJwk& a, const PublicJwk& b) noexcept {
    return a.curve_ == b.curve_ && a.x_ == b.x_ && a.y_ == b.y_;
  }

 private:
  friend Result<PublicJwk> make_public_jwk(Curve curve, Bytes x, Bytes y);
  PublicJwk(Curve curve, std::shared_ptr<EVP_PKEY> key, Bytes x, Bytes y)
      : curve_(curve), key_(std::move(key)), x_(std::move(x)), y_(std::move(y)) {}

  std::string thumbprint_input() const;

  Curve curve_;
  std::shared_ptr<EVP_PKEY> key_;
  Bytes x_;
  Bytes y_;
};

/// Imports a public JWK. Members other than kty, crv, x, y (kid, use, alg, key_ops, ...) are
/// allowed and ignored. Errors: jose.jwk_invalid (not an object, missing member, wrong type,
/// bad base64url), jose.jwk_private (d, p, q, dp, dq, qi, oth or k present),
/// jose.jwk_unsupported (kty/crv), jose.jwk_point_invalid (coordinate length, not on curve).
Result<PublicJwk> parse_public_jwk(const nlohmann::json& jwk);

/// The public half of an EC P-256/P-384 or Ed25519 key (private or public).
/// Errors: jose.jwk_unsupported (other key types or curves), jose.jwk_invalid (null key).
Result<PublicJwk> public_jwk_of(EVP_PKEY* key);

/// Builds a key from raw coordinates (y empty for Ed25519), validating as parse_public_jwk does.
/// Errors: jose.jwk_point_invalid.
Result<PublicJwk> make_public_jwk(Curve curve, Bytes x, Bytes y);

}  // namespace atls::sts::jose
