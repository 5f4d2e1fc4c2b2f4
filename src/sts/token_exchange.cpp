#include "sts/token_exchange.h"

#include <algorithm>

#include "core/digest.h"
#include "sts/errors.h"
#include "sts/jose/base64url.h"

namespace atls::sts {
namespace {

Failure refuse(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

}  // namespace

Outcome<TokenExchangeRequest> parse_token_exchange(const Form& form) {
  auto grant_type = form.single("grant_type");
  if (!grant_type) {
    return grant_type.error();
  }
  if (!*grant_type || **grant_type != kTokenExchangeGrant) {
    return refuse(Errc::UnsupportedGrantType);
  }
  auto subject_token = form.single("subject_token");
  if (!subject_token) {
    return subject_token.error();
  }
  auto subject_token_type = form.single("subject_token_type");
  if (!subject_token_type) {
    return subject_token_type.error();
  }
  if (!*subject_token || !*subject_token_type) {
    return refuse(Errc::SubjectTokenMissing);
  }
  if (**subject_token_type != kAttestationTokenType) {
    return refuse(Errc::SubjectTokenTypeUnsupported);
  }
  for (const char* name : {"actor_token", "actor_token_type"}) {
    auto actor = form.single(name);
    if (!actor) {
      return actor.error();
    }
    if (*actor) {
      return refuse(Errc::ActorTokenUnsupported);
    }
  }
  auto scope = form.single("scope");
  if (!scope) {
    return scope.error();
  }
  if (*scope) {
    return refuse(Errc::ScopeUnsupported);
  }
  auto requested = form.single("requested_token_type");
  if (!requested) {
    return requested.error();
  }
  if (*requested && **requested != kAccessTokenType && **requested != kJwtTokenType) {
    return refuse(Errc::RequestedTokenTypeUnsupported);
  }

  auto raw = jose::base64url_decode(**subject_token);
  if (!raw) {
    return refuse(Errc::SubjectTokenMalformed, "not base64url");
  }
  auto message = ratls::decode_message(*raw);
  if (!message) {
    return refuse(Errc::SubjectTokenMalformed, error_id(message.error()));
  }
  TokenExchangeRequest request;
  request.subject = std::move(*message);
  request.targets = form.all("audience");
  auto resources = form.all("resource");
  request.targets.insert(request.targets.end(), resources.begin(), resources.end());
  return request;
}

attest::ReportData token_request_report_data(ByteView key_thumbprint, std::string_view nonce) {
  attest::ReportData report_data{};
  std::copy_n(key_thumbprint.begin(), std::min<std::size_t>(key_thumbprint.size(), 32),
              report_data.begin());
  std::string freshness(kReportDataContext);
  freshness.push_back('\0');
  freshness.append(nonce);
  const auto digest = sha256(as_bytes(freshness));
  std::copy(digest.begin(), digest.end(), report_data.begin() + 32);
  return report_data;
}

std::string make_token_exchange_body(const ratls::AttestationMessage& message,
                                     const std::vector<std::string>& audiences) {
  std::string body = "grant_type=" + form_encode(kTokenExchangeGrant);
  body += "&subject_token_type=" + form_encode(kAttestationTokenType);
  body += "&subject_token=" + jose::base64url_encode(ratls::encode_message(message));
  body += "&requested_token_type=" + form_encode(kAccessTokenType);
  for (const auto& audience : audiences) {
    body += "&audience=" + form_encode(audience);
  }
  return body;
}

}  // namespace atls::sts
