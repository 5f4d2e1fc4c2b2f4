#include "sts/jose/errors.h"

#include <array>

namespace atls::sts::jose {
namespace {

constexpr std::array kTable{
    errc_row(Errc::Base64urlInvalid, "base64url_invalid",
             "not canonical unpadded base64url (RFC 7515 section 2)"),
    errc_row(Errc::JwsMalformed, "jws_malformed",
             "not a compact JWS of three non-empty base64url parts within the size limit"),
    errc_row(Errc::HeaderInvalid, "header_invalid",
             "JWS protected header is not a JSON object with a string alg, has a duplicate "
             "member, or has crit"),
    errc_row(Errc::PayloadInvalid, "payload_invalid", "JWS payload is not a JSON object"),
    errc_row(Errc::AlgorithmNotAllowed, "algorithm_not_allowed",
             "JWS algorithm is not on the allowlist"),
    errc_row(Errc::AlgorithmKeyMismatch, "algorithm_key_mismatch",
             "JWS algorithm does not fit the key type or curve"),
    errc_row(Errc::JwkInvalid, "jwk_invalid",
             "JWK is not an object or lacks a required member of the right type"),
    errc_row(Errc::JwkUnsupported, "jwk_unsupported",
             "JWK key type or curve is not supported (EC P-256, EC P-384, OKP Ed25519)"),
    errc_row(Errc::JwkPrivate, "jwk_private", "JWK contains private key material"),
    errc_row(Errc::JwkPointInvalid, "jwk_point_invalid",
             "JWK coordinates have the wrong length or are not a point on the curve"),
    errc_row(Errc::SignatureInvalid, "signature_invalid", "JWS signature does not verify"),
    errc_row(Errc::SigningFailed, "signing_failed", "JWS could not be signed"),
    errc_row(Errc::KeyGenerationFailed, "key_generation_failed",
             "signing key could not be generated"),
};

const NamedCategory kCategory{"jose", kTable};

}  // namespace

const NamedCategory& jose_category() noexcept {
  return kCategory;
}

}  // namespace atls::sts::jose
