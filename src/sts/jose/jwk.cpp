#include "sts/jose/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>

#include <array>

#include "core/digest.h"
#include "sts/jose/base64url.h"
#include "sts/jose/errors.h"

namespace atls::sts::jose {
namespace {

// RFC 7517 §9.2 / RFC 7518 §6.2.2, §6.3.2, §6.4 / RFC 8037 §2: members that only a private (or
// symmetric) key has. A "public" JWK carrying any of them is refused outright, so a client
// that leaks its private key in a DPoP header is told so instead of silently succeeding.
constexpr std::array<std::string_view, 8> kPrivateMembers{"d",  "p",  "q",   "dp",
                                                          "dq", "qi", "oth", "k"};

// RFC 7518 §6.2.1.2/§6.2.1.3: coordinates are the full-length big-endian field elements.
std::size_t coordinate_size(Curve curve) noexcept {
  switch (curve) {
    case Curve::P256: return 32;
    case Curve::P384: return 48;
    case Curve::Ed25519: return 32;  // RFC 8032 §5.1.5: the encoded public key
  }
  return 0;
}

void free_pkey(EVP_PKEY* key) noexcept {
  EVP_PKEY_free(key);
}

// EC public key from its uncompressed point (SEC 1 §2.3.3: 0x04 || x || y). OpenSSL decodes the
// point on import, and EVP_PKEY_public_check rejects points off the curve or at infinity.
tls::EvpPkeyPtr import_ec_point(Curve curve, const Bytes& x, const Bytes& y) {
  Bytes point;
  point.reserve(1 + x.size() + y.size());
  point.push_back(0x04);
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  char group[16] = {};
  const std::string_view group_name = curve == Curve::P256 ? "prime256v1" : "secp384r1";
  group_name.copy(group, sizeof(group) - 1);
  std::array params{
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  tls::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.data()) != 1) {
    return nullptr;
  }
  tls::EvpPkeyPtr key(raw);
  tls::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return nullptr;
  }
  return key;
}

// The required base64url member `name`, decoded. A missing, non-string or non-canonical value
// makes the JWK invalid (its length and the point are judged later).
Result<Bytes> coordinate(const nlohmann::json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return make_error_code(Errc::JwkInvalid);
  }
  auto decoded = base64url_decode(it->get_ref<const std::string&>());
  if (!decoded) {
    return make_error_code(Errc::JwkInvalid);
  }
  return std::move(*decoded);
}

const std::string* string_member(const nlohmann::json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

// BN_bn2binpad: the fixed-width big-endian form JWK requires (a leading zero byte of x or y is
// kept, RFC 7518 §6.2.1.2).
bool read_coordinate(EVP_PKEY* key, const char* param, std::size_t width, Bytes& out) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
    return false;
  }
  std::unique_ptr<BIGNUM, tls::OsslDeleter<BN_free>> owned(bn);
  out.assign(width, 0);
  return BN_bn2binpad(bn, out.data(), static_cast<int>(width)) == static_cast<int>(width);
}

}  // namespace

std::string_view curve_name(Curve curve) noexcept {
  switch (curve) {
    case Curve::P256: return "P-256";
    case Curve::P384: return "P-384";
    case Curve::Ed25519: return "Ed25519";
  }
  return "";
}

Result<PublicJwk> make_public_jwk(Curve curve, Bytes x, Bytes y) {
  const std::size_t size = coordinate_size(curve);
  tls::EvpPkeyPtr key;
  if (curve == Curve::Ed25519) {
    if (x.size() != size || !y.empty()) {
      return make_error_code(Errc::JwkPointInvalid);
    }
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, x.data(), x.size()));
  } else {
    if (x.size() != size || y.size() != size) {
      return make_error_code(Errc::JwkPointInvalid);
    }
    key = import_ec_point(curve, x, y);
  }
  if (!key) {
    ERR_clear_error();  // the refusal is reported by our code, not OpenSSL's queue
    return make_error_code(Errc::JwkPointInvalid);
  }
  return PublicJwk(curve, std::shared_ptr<EVP_PKEY>(key.release(), &free_pkey), std::move(x),
                   std::move(y));
}

Result<PublicJwk> parse_public_jwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    return make_error_code(Errc::JwkInvalid);
  }
  for (const std::string_view member : kPrivateMembers) {
    if (jwk.contains(member)) {
      return make_error_code(Errc::JwkPrivate);
    }
  }
  const std::string* kty = string_member(jwk, "kty");
  const std::string* crv = string_member(jwk, "crv");
  if (kty == nullptr) {
    return make_error_code(Errc::JwkInvalid);
  }
  Curve curve{};
  if (*kty == "EC") {
    if (crv == nullptr) {
      return make_error_code(Errc::JwkInvalid);
    }
    if (*crv == "P-256") {
      curve = Curve::P256;
    } else if (*crv == "P-384") {
      curve = Curve::P384;
    } else {
      return make_error_code(Errc::JwkUnsupported);
    }
  } else if (*kty == "OKP") {
    if (crv == nullptr) {
      return make_error_code(Errc::JwkInvalid);
    }
    if (*crv != "Ed25519") {
      return make_error_code(Errc::JwkUnsupported);  // X25519 is for key agreement; Ed448 unused
    }
    curve = Curve::Ed25519;
  } else {
    return make_error_code(Errc::JwkUnsupported);  // RSA, oct, anything else
  }
  auto x = coordinate(jwk, "x");
  if (!x) {
    return x.error();
  }
  if (curve == Curve::Ed25519) {
    return make_public_jwk(curve, std::move(*x), {});
  }
  auto y = coordinate(jwk, "y");
  if (!y) {
    return y.error();
  }
  return make_public_jwk(curve, std::move(*x), std::move(*y));
}

Result<PublicJwk> public_jwk_of(EVP_PKEY* key) {
  if (key == nullptr) {
    return make_error_code(Errc::JwkInvalid);
  }
  const int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_ED25519) {
    Bytes x(32);
    std::size_t length = x.size();
    if (EVP_PKEY_get_raw_public_key(key, x.data(), &length) != 1 || length != x.size()) {
      ERR_clear_error();
      return make_error_code(Errc::JwkInvalid);
    }
    return make_public_jwk(Curve::Ed25519, std::move(x), {});
  }
  if (type != EVP_PKEY_EC) {
    return make_error_code(Errc::JwkUnsupported);
  }
  char group[64] = {};
  std::size_t group_length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_length) != 1) {
    ERR_clear_error();
    return make_error_code(Errc::JwkUnsupported);
  }
  int nid = OBJ_sn2nid(group);
  if (nid == NID_undef) {
    nid = EC_curve_nist2nid(group);
  }
  Curve curve{};
  if (nid == NID_X9_62_prime256v1) {
    curve = Curve::P256;
  } else if (nid == NID_secp384r1) {
    curve = Curve::P384;
  } else {
    return make_error_code(Errc::JwkUnsupported);
  }
  const std::size_t width = coordinate_size(curve);
  Bytes x;
  Bytes y;
  if (!read_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X, width, x) ||
      !read_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y, width, y)) {
    ERR_clear_error();
    return make_error_code(Errc::JwkInvalid);
  }
  return make_public_jwk(curve, std::move(x), std::move(y));
}

nlohmann::json PublicJwk::to_json() const {
  nlohmann::json out{
      {"kty", curve_ == Curve::Ed25519 ? "OKP" : "EC"},
      {"crv", std::string(curve_name(curve_))},
      {"x", base64url_encode(x_)},
  };
  if (curve_ != Curve::Ed25519) {
    out["y"] = base64url_encode(y_);
  }
  return out;
}

// RFC 7638 §3.2: only the required members (EC: crv, kty, x, y; OKP per RFC 8037 §2: crv, kty,
// x), sorted by name, no whitespace. Every value is ASCII without characters JSON escapes, so
// the text is written directly rather than through a JSON serializer whose formatting could
// change.
std::string PublicJwk::thumbprint_input() const {
  std::string out = "{\"crv\":\"";
  out += curve_name(curve_);
  out += curve_ == Curve::Ed25519 ? "\",\"kty\":\"OKP\",\"x\":\"" : "\",\"kty\":\"EC\",\"x\":\"";
  out += base64url_encode(x_);
  if (curve_ != Curve::Ed25519) {
    out += "\",\"y\":\"";
    out += base64url_encode(y_);
  }
  out += "\"}";
  return out;
}

Bytes PublicJwk::thumbprint_bytes() const {
  const Sha256Digest digest = sha256(as_bytes(thumbprint_input()));
  return Bytes(digest.begin(), digest.end());
}

std::string PublicJwk::thumbprint() const {
  return base64url_encode(thumbprint_bytes());
}

}  // namespace atls::sts::jose
