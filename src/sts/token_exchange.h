#pragma once
// The token-exchange request this service accepts (RFC 8693 §2.1) and how its evidence is bound
// to the request (docs/token-service.md).
//
// A workload in a TEE exchanges fresh attestation evidence for a short-lived access token bound
// to a DPoP key (RFC 9449) that it generated inside the TEE:
//
//   grant_type          = urn:ietf:params:oauth:grant-type:token-exchange
//   subject_token       = base64url(attestation message)   (interop spec §2.2: SCALE type +
//   evidence) subject_token_type  = urn:atls-proxy:params:oauth:token-type:ratls-attestation
//   audience / resource = optional, repeatable; each must be one this service issues for
//   requested_token_type= optional; access_token or jwt (both give the same RFC 9068 JWT)
//
// The evidence must bind (report data, 64 bytes):
//   bytes  0..31  the RFC 7638 SHA-256 thumbprint of the DPoP proof's key
//   bytes 32..63  SHA-256("atls-proxy token-exchange v1" || 0x00 || DPoP nonce)
// The key half makes the token usable only by the attested workload (the private key never
// leaves the TEE); the nonce half makes the evidence fresh (the nonce is the server's current
// DPoP-Nonce, RFC 9449 §8, so evidence older than two nonce windows is refused). The layout
// mirrors the channel binding of interop spec §3.1 (key hash, then freshness).

#include <string>
#include <string_view>
#include <vector>

#include "attest/claims.h"
#include "core/error.h"
#include "ratls/message.h"
#include "sts/form.h"

namespace atls::sts {

inline constexpr std::string_view kTokenExchangeGrant =
    "urn:ietf:params:oauth:grant-type:token-exchange";
/// A private token type URI (RFC 8693 §3 allows them); the value is base64url (no padding) of
/// one attestation message.
inline constexpr std::string_view kAttestationTokenType =
    "urn:atls-proxy:params:oauth:token-type:ratls-attestation";
inline constexpr std::string_view kAccessTokenType =
    "urn:ietf:params:oauth:token-type:access_token";
inline constexpr std::string_view kJwtTokenType = "urn:ietf:params:oauth:token-type:jwt";
inline constexpr std::string_view kReportDataContext = "atls-proxy token-exchange v1";

struct TokenExchangeRequest {
  ratls::AttestationMessage subject;
  /// audience values then resource values, in request order (both name the target, RFC 8693
  /// §2.1); empty when the requester named none.
  std::vector<std::string> targets;
};

/// Validates the form of a token-exchange request. Errors: sts.form_malformed,
/// sts.unsupported_grant_type, sts.subject_token_missing, sts.subject_token_type_unsupported,
/// sts.subject_token_malformed (with the message decoder's error in the detail),
/// sts.actor_token_unsupported, sts.scope_unsupported, sts.requested_token_type_unsupported.
Outcome<TokenExchangeRequest> parse_token_exchange(const Form& form);

/// The report data a token request's evidence must bind (see the header comment).
/// `key_thumbprint` is the raw 32-byte SHA-256 JWK thumbprint.
attest::ReportData token_request_report_data(ByteView key_thumbprint, std::string_view nonce);

/// The body of a token-exchange request for `message` (the client side).
std::string make_token_exchange_body(const ratls::AttestationMessage& message,
                                     const std::vector<std::string>& audiences);

}  // namespace atls::sts
