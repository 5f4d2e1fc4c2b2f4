#include "sts/errors.h"

#include <array>

namespace atls::sts {
namespace {

constexpr std::array kTable{
    errc_row(Errc::FormMalformed, "form_malformed",
             "the request body is not a valid application/x-www-form-urlencoded form"),
    errc_row(Errc::UnsupportedGrantType, "unsupported_grant_type",
             "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange"),
    errc_row(Errc::SubjectTokenMissing, "subject_token_missing",
             "subject_token and subject_token_type are required"),
    errc_row(Errc::SubjectTokenTypeUnsupported, "subject_token_type_unsupported",
             "subject_token_type is not the attestation token type"),
    errc_row(Errc::SubjectTokenMalformed, "subject_token_malformed",
             "subject_token is not a base64url attestation message"),
    errc_row(Errc::RequesterUnattested, "requester_unattested",
             "tokens are only issued for verified attestation evidence"),
    errc_row(Errc::InvalidTarget, "invalid_target",
             "the requested audience or resource is not served by this token service"),
    errc_row(Errc::RequestedTokenTypeUnsupported, "requested_token_type_unsupported",
             "requested_token_type must be an access token or a JWT"),
    errc_row(Errc::ActorTokenUnsupported, "actor_token_unsupported",
             "actor tokens (delegation) are not supported"),
    errc_row(Errc::ScopeUnsupported, "scope_unsupported", "this token service grants no scopes"),
    errc_row(Errc::SigningFailed, "signing_failed", "the token could not be signed"),
};

const NamedCategory kCategory{"sts", kTable};

}  // namespace

const NamedCategory& sts_category() noexcept {
  return kCategory;
}

}  // namespace atls::sts
