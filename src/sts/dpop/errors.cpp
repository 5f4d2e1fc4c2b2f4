#include "sts/dpop/errors.h"

#include <array>

namespace atls::sts::dpop {
namespace {

constexpr std::array kTable{
    errc_row(Errc::ProofMissing, "proof_missing", "the request carries no DPoP proof"),
    errc_row(Errc::ProofMultiple, "proof_multiple",
             "the request carries more than one DPoP header field"),
    errc_row(Errc::ProofMalformed, "proof_malformed", "the DPoP proof is not a well-formed JWT"),
    errc_row(Errc::TypInvalid, "typ_invalid", "the DPoP proof's typ is not dpop+jwt"),
    errc_row(Errc::AlgorithmNotAllowed, "algorithm_not_allowed",
             "the DPoP proof's signature algorithm is not allowed"),
    errc_row(Errc::JwkInvalid, "jwk_invalid",
             "the DPoP proof's jwk is missing, invalid, private, or does not fit alg"),
    errc_row(Errc::SignatureInvalid, "signature_invalid",
             "the DPoP proof's signature does not verify with its jwk"),
    errc_row(Errc::ClaimMissing, "claim_missing",
             "the DPoP proof lacks jti, htm, htu or iat, or one has the wrong type"),
    errc_row(Errc::MethodMismatch, "method_mismatch",
             "the DPoP proof's htm is not the request method"),
    errc_row(Errc::UriMismatch, "uri_mismatch", "the DPoP proof's htu is not the request URI"),
    errc_row(Errc::IatTooOld, "iat_too_old", "the DPoP proof was issued too long ago"),
    errc_row(Errc::IatInFuture, "iat_in_future", "the DPoP proof is issued in the future"),
    errc_row(Errc::Replayed, "replayed", "the DPoP proof's jti was already used with this key"),
    errc_row(Errc::NonceRequired, "nonce_required",
             "the server requires a DPoP nonce and the proof has none"),
    errc_row(Errc::NonceInvalid, "nonce_invalid",
             "the DPoP proof's nonce is stale or was not issued by this server"),
    errc_row(Errc::AthMismatch, "ath_mismatch",
             "the DPoP proof's ath is missing or is not the hash of the access token"),
    errc_row(Errc::UriInvalid, "uri_invalid", "the URI is not an absolute http or https URI"),
    errc_row(Errc::MethodInvalid, "method_invalid", "the HTTP method is not a valid token"),
};

const NamedCategory kCategory{"dpop", kTable};

}  // namespace

const NamedCategory& dpop_category() noexcept {
  return kCategory;
}

}  // namespace atls::sts::dpop
