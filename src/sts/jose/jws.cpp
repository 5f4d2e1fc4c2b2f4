#include "sts/jose/jws.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>

#include "core/json.h"
#include "sts/jose/base64url.h"
#include "sts/jose/errors.h"
#include "tls/ecdsa.h"

namespace atls::sts::jose {
namespace {

using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, tls::OsslDeleter<EVP_MD_CTX_free>>;

// A JOSE header or claim set is flat; a deeply nested one is hostile.
constexpr std::size_t kMaxJsonDepth = 16;

// RFC 7518 §3.4: R and S each as a fixed-width big-endian integer of the curve's order size.
std::size_t ecdsa_half_size(Algorithm alg) noexcept {
  return alg == Algorithm::ES384 ? 48 : 32;
}

const EVP_MD* digest_of(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::ES256: return EVP_sha256();
    case Algorithm::ES384: return EVP_sha384();
    case Algorithm::Ed25519: return nullptr;  // PureEdDSA hashes internally (RFC 8032 §5.1)
  }
  return nullptr;
}

std::string_view as_text(const Bytes& bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

Result<Signer> keygen_failure() {
  ERR_clear_error();
  return make_error_code(Errc::KeyGenerationFailed);
}

void free_signing_key(EVP_PKEY* key) noexcept {
  EVP_PKEY_free(key);
}

bool has_private_part(EVP_PKEY* key, Curve curve) {
  if (curve == Curve::Ed25519) {
    std::size_t length = 0;
    return EVP_PKEY_get_raw_private_key(key, nullptr, &length) == 1 && length == 32;
  }
  BIGNUM* d = nullptr;
  const bool ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1;
  BN_clear_free(d);
  return ok;
}

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept {
  if (name == "ES256") {
    return Algorithm::ES256;
  }
  if (name == "ES384") {
    return Algorithm::ES384;
  }
  if (name == "EdDSA" || name == "Ed25519") {
    return Algorithm::Ed25519;
  }
  return std::nullopt;
}

std::string_view algorithm_name(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::ES256: return "ES256";
    case Algorithm::ES384: return "ES384";
    case Algorithm::Ed25519: return "EdDSA";
  }
  return "";
}

Curve curve_of(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::ES256: return Curve::P256;
    case Algorithm::ES384: return Curve::P384;
    case Algorithm::Ed25519: return Curve::Ed25519;
  }
  return Curve::P256;
}

Result<CompactJws> parse_compact(std::string_view token, std::span<const Algorithm> allowed) {
  if (token.size() > kMaxCompactJwsSize) {
    return make_error_code(Errc::JwsMalformed);
  }
  // RFC 7515 §7.1: exactly three parts. An empty payload (RFC 7515 Appendix F detached content)
  // is not used by anything this service reads, so every part must be present.
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return make_error_code(Errc::JwsMalformed);
  }
  const std::string_view header_text = token.substr(0, first);
  const std::string_view payload_text = token.substr(first + 1, second - first - 1);
  const std::string_view signature_text = token.substr(second + 1);
  if (header_text.empty() || payload_text.empty() || signature_text.empty()) {
    return make_error_code(Errc::JwsMalformed);
  }

  auto header_bytes = base64url_decode(header_text);
  if (!header_bytes) {
    return header_bytes.error();
  }
  // RFC 7515 §4: header parameter names must be unique, and a parser must either reject
  // duplicates or keep the last one. Rejecting is the only choice that two parsers cannot read
  // differently (one seeing the first "alg", another the last).
  auto header = parse_json_strict(as_text(*header_bytes), kMaxJsonDepth);
  if (!header || !header->is_object()) {
    return make_error_code(Errc::HeaderInvalid);
  }
  if (header->contains("crit")) {
    return make_error_code(Errc::HeaderInvalid);
  }
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) {
    return make_error_code(Errc::HeaderInvalid);
  }
  const auto algorithm = algorithm_from_name(alg->get_ref<const std::string&>());
  if (!algorithm || std::find(allowed.begin(), allowed.end(), *algorithm) == allowed.end()) {
    return make_error_code(Errc::AlgorithmNotAllowed);
  }

  auto payload = base64url_decode(payload_text);
  if (!payload) {
    return payload.error();
  }
  auto signature = base64url_decode(signature_text);
  if (!signature) {
    return signature.error();
  }
  return CompactJws{
      std::move(*header),
      *algorithm,
      std::string(as_text(*payload)),
      std::move(*signature),
      std::string(token.substr(0, second)),
  };
}

Result<nlohmann::json> payload_object(const CompactJws& jws) {
  auto parsed = parse_json_strict(jws.payload, kMaxJsonDepth);
  if (!parsed || !parsed->is_object()) {
    return make_error_code(Errc::PayloadInvalid);
  }
  return std::move(*parsed);
}

Result<void> verify_signature(const CompactJws& jws, const PublicJwk& key) {
  // RFC 8725 §3.1: the key decides the algorithm. A P-256 key verifies ES256 only, an Ed25519
  // key EdDSA only; the header cannot talk a verifier into another pairing.
  if (curve_of(jws.algorithm) != key.curve()) {
    return make_error_code(Errc::AlgorithmKeyMismatch);
  }
  Bytes der;
  ByteView signature = jws.signature;
  if (jws.algorithm == Algorithm::Ed25519) {
    if (signature.size() != 64) {  // RFC 8032 §5.1.6: R || S, 32 bytes each
      return make_error_code(Errc::SignatureInvalid);
    }
  } else {
    // The length is fixed, so a DER signature (what OpenSSL and many libraries produce) is
    // refused here; in the rare case its length happens to match, it fails to verify as R || S.
    if (signature.size() != 2 * ecdsa_half_size(jws.algorithm)) {
      return make_error_code(Errc::SignatureInvalid);
    }
    der = tls::ecdsa_der_from_components(ByteView(signature).first(signature.size() / 2),
                                         ByteView(signature).subspan(signature.size() / 2));
    if (der.empty()) {
      ERR_clear_error();
      return make_error_code(Errc::SignatureInvalid);
    }
    signature = der;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool verified =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, digest_of(jws.algorithm), nullptr, key.key()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(jws.signing_input.data()),
                       jws.signing_input.size()) == 1;
  if (!verified) {
    ERR_clear_error();
    return make_error_code(Errc::SignatureInvalid);
  }
  return {};
}

Result<Signer> Signer::generate(Algorithm alg) {
  EVP_PKEY* key = nullptr;
  switch (alg) {
    case Algorithm::ES256: key = EVP_EC_gen("P-256"); break;
    case Algorithm::ES384: key = EVP_EC_gen("P-384"); break;
    case Algorithm::Ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
  }
  if (key == nullptr) {
    return keygen_failure();
  }
  return from_private_key(tls::EvpPkeyPtr(key));
}

Result<Signer> Signer::from_private_key(tls::EvpPkeyPtr key) {
  auto public_jwk = public_jwk_of(key.get());
  if (!public_jwk) {
    return public_jwk.error();
  }
  const Curve curve = public_jwk->curve();
  if (!has_private_part(key.get(), curve)) {
    ERR_clear_error();
    return make_error_code(Errc::JwkInvalid);
  }
  const Algorithm alg = curve == Curve::P256   ? Algorithm::ES256
                        : curve == Curve::P384 ? Algorithm::ES384
                                               : Algorithm::Ed25519;
  return Signer(alg, std::shared_ptr<EVP_PKEY>(key.release(), &free_signing_key),
                std::move(*public_jwk));
}

Result<Bytes> Signer::sign(std::string_view signing_input) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  const auto* tbs = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, digest_of(algorithm_), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, tbs, signing_input.size()) != 1) {
    ERR_clear_error();
    return make_error_code(Errc::SigningFailed);
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, tbs, signing_input.size()) != 1) {
    ERR_clear_error();
    return make_error_code(Errc::SigningFailed);
  }
  signature.resize(size);
  if (algorithm_ == Algorithm::Ed25519) {
    return signature;
  }
  Bytes raw = tls::ecdsa_raw_from_der(signature, ecdsa_half_size(algorithm_));
  if (raw.empty()) {
    ERR_clear_error();
    return make_error_code(Errc::SigningFailed);
  }
  return raw;
}

Result<std::string> Signer::sign_compact(nlohmann::json header, std::string_view payload) const {
  if (header.is_null()) {
    header = nlohmann::json::object();
  }
  if (!header.is_object()) {
    return make_error_code(Errc::HeaderInvalid);
  }
  header["alg"] = std::string(algorithm_name(algorithm_));
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return make_error_code(Errc::HeaderInvalid);  // a string member is not valid UTF-8
  }
  std::string token = base64url_encode(as_bytes(header_text));
  token += '.';
  token += base64url_encode(as_bytes(payload));
  auto signature = sign(token);
  if (!signature) {
    return signature.error();
  }
  token += '.';
  token += base64url_encode(*signature);
  return token;
}

}  // namespace atls::sts::jose
