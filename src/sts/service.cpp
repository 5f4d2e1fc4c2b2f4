#include "sts/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>

#include "core/digest.h"
#include "core/offload.h"
#include "http/h1_server.h"
#include "http/message.h"
#include "ops/channel_recorder.h"
#include "ratls/errors.h"
#include "sts/dpop/errors.h"
#include "sts/errors.h"
#include "sts/form.h"
#include "sts/token_exchange.h"

namespace atls::sts {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kRole = "sts";

/// RFC 6749 §5.2 / RFC 8693 §2.2.2 / RFC 9449 §5 error code for a named failure.
std::string_view oauth_error_for(const ErrorCode& error) {
  if (error == dpop::Errc::NonceRequired || error == dpop::Errc::NonceInvalid) {
    return "use_dpop_nonce";
  }
  if (error.category() == dpop::dpop_category()) {
    return "invalid_dpop_proof";
  }
  if (error.category() == sts_category()) {
    switch (static_cast<Errc>(error.value())) {
      case Errc::UnsupportedGrantType: return "unsupported_grant_type";
      case Errc::InvalidTarget: return "invalid_target";
      case Errc::ScopeUnsupported: return "invalid_scope";
      case Errc::RequesterUnattested: return "invalid_grant";
      case Errc::SigningFailed: return "server_error";
      default: return "invalid_request";
    }
  }
  // The appraisal's codes (verifier, policy, ratls): the subject token is not acceptable.
  return "invalid_grant";
}

http::UpstreamResponse json_response(int status, const nlohmann::json& body) {
  auto response = http::make_text_response(status, body.dump() + "\n");
  response.head.headers.set("content-type", "application/json");
  return response;
}

bool is_form_content_type(std::optional<std::string_view> value) {
  if (!value) {
    return false;
  }
  std::string_view media = value->substr(0, value->find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) {
    media.remove_suffix(1);
  }
  // Media types are case-insensitive (RFC 9110 §8.3.1).
  return http::iequals(media, "application/x-www-form-urlencoded");
}

}  // namespace

struct TokenService::Decision {
  Failure failure;  ///< failure.code is empty on success
  std::optional<IssuedToken> token;
  // Facts for the log, the audit record and the metrics.
  std::optional<attest::AttestationType> claimed_type;
  std::string evidence_sha256;
  std::string key_thumbprint;
  std::optional<ratls::PeerAttestation> peer;
  bool appraised = false;
};

TokenServiceMetrics::TokenServiceMetrics(ops::Registry& registry)
    : issued(registry.counter("atls_token_issues_total",
                              "Access tokens issued by the token service (RFC 8693 exchange)",
                              {"token_type"})),
      rejected(registry.counter("atls_token_requests_rejected_total",
                                "Token requests refused, by named error code", {"reason"})),
      nonces(registry.counter("atls_token_dpop_nonces_issued_total",
                              "use_dpop_nonce answers carrying a fresh DPoP-Nonce")) {}

TokenService::TokenService(Dependencies dependencies, TokenServiceOptions options)
    : deps_(std::move(dependencies)), options_(std::move(options)), metrics_(*deps_.registry) {}

http::RequestHandler TokenService::handler() {
  return [self = shared_from_this()](http::ServerExchangePtr exchange) {
    return self->handle(std::move(exchange));
  };
}

nlohmann::json TokenService::metadata() const {
  nlohmann::json algorithms = nlohmann::json::array();
  for (const auto algorithm : deps_.proofs->algorithms()) {
    algorithms.push_back(std::string(jose::algorithm_name(algorithm)));
  }
  // RFC 8414 §2; dpop_signing_alg_values_supported is RFC 9449 §5.1. No client authentication
  // method: the requester is authenticated by its evidence and its DPoP key.
  return nlohmann::json{
      {"issuer", deps_.issuer->options().issuer},
      {"token_endpoint", options_.token_endpoint},
      {"jwks_uri", options_.jwks_uri},
      {"grant_types_supported", {std::string(kTokenExchangeGrant)}},
      {"token_endpoint_auth_methods_supported", {"none"}},
      {"dpop_signing_alg_values_supported", algorithms},
      {"response_types_supported", nlohmann::json::array()},
  };
}

asio::awaitable<void> TokenService::handle(http::ServerExchangePtr exchange) {
  // Held by the frame: a request in flight keeps the service alive whatever the listener does.
  const auto keep_alive = shared_from_this();
  const auto& request = exchange->request();
  const std::string_view path =
      std::string_view(request.target)
          .substr(0, std::min(request.target.find('?'), request.target.size()));
  if (path == "/token") {
    if (request.method != "POST") {
      http::send_method_not_allowed(*exchange, "POST");
      co_return;
    }
    co_await handle_token(std::move(exchange));
    co_return;
  }
  const bool is_metadata = path == "/.well-known/oauth-authorization-server";
  if (!is_metadata && path != "/jwks") {
    http::send_not_found(*exchange);
    co_return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    http::send_method_not_allowed(*exchange, "GET, HEAD");
    co_return;
  }
  auto response = json_response(200, is_metadata ? metadata() : deps_.issuer->jwks());
  response.head.headers.set("cache-control", "max-age=300");
  exchange->send_response(std::move(response.head), std::move(response.body));
}

asio::awaitable<void> TokenService::handle_token(http::ServerExchangePtr exchange) {
  // The whole body first (bounded): the form is small, and the proof is checked before it is
  // parsed only so that a nonce request needs no evidence.
  std::string body;
  bool too_large = false;
  for (;;) {
    auto chunk = co_await exchange->request_body()->read();
    if (chunk.error) {
      co_return;  // the requester went away; nothing to answer
    }
    if (body.size() + chunk.data.size() > options_.max_body_bytes) {
      too_large = true;
      break;
    }
    body.append(chunk.data.begin(), chunk.data.end());
    if (chunk.end) {
      break;
    }
  }
  Decision decision;
  if (too_large) {
    decision.failure = Failure{make_error_code(Errc::FormMalformed),
                               fmt::format("body larger than {} bytes", options_.max_body_bytes)};
  } else if (!is_form_content_type(exchange->request().headers.get("content-type"))) {
    decision.failure = Failure{make_error_code(Errc::FormMalformed),
                               "content-type is not application/x-www-form-urlencoded"};
  } else {
    // Pointers, not references or temporaries, into the nested coroutine (core/offload.h
    // explains the GCC 12 bugs this avoids).
    const http::ServerExchange* raw = exchange.get();
    const std::string* form_body = &body;
    decision = co_await decide(raw, form_body);
  }

  const std::string peer = exchange->peer_address().to_string();
  record(decision, peer);
  if (decision.token) {
    const nlohmann::json answer{
        {"access_token", decision.token->access_token},
        {"issued_token_type", std::string(kAccessTokenType)},
        // RFC 9449 §5: a DPoP-bound token has token_type DPoP, never Bearer.
        {"token_type", "DPoP"},
        {"expires_in", decision.token->expires_in.count()},
    };
    auto response = json_response(200, answer);
    response.head.headers.set("cache-control", "no-store");
    exchange->send_response(std::move(response.head), std::move(response.body));
    co_return;
  }
  const std::string_view oauth_error = oauth_error_for(decision.failure.code);
  const nlohmann::json answer{{"error", std::string(oauth_error)},
                              {"error_description", error_id(decision.failure.code)}};
  auto response = json_response(oauth_error == "server_error" ? 500 : 400, answer);
  response.head.headers.set("cache-control", "no-store");
  if (oauth_error == "use_dpop_nonce") {
    // RFC 9449 §8: the nonce the client must put in its next proof (and, here, bind into its
    // evidence).
    response.head.headers.set("dpop-nonce", deps_.proofs->nonces().current(deps_.clock->now()));
    metrics_.nonces.get().inc();
  }
  exchange->send_response(std::move(response.head), std::move(response.body));
}

asio::awaitable<TokenService::Decision> TokenService::decide(const http::ServerExchange* exchange,
                                                             const std::string* body) {
  Decision decision;
  const SystemTime now = deps_.clock->now();

  std::vector<std::string> proof_headers;
  for (const auto& field : exchange->request().headers) {
    if (field.name == "dpop") {
      proof_headers.push_back(field.value);
    }
  }
  dpop::ProofCheck check;
  check.method = "POST";
  check.htu = options_.token_endpoint;
  check.require_nonce = true;
  auto proof = deps_.proofs->verify(proof_headers, check, now);
  if (!proof) {
    decision.failure = proof.error();
    co_return decision;
  }
  decision.key_thumbprint = proof->jkt;

  auto form = parse_form(*body);
  if (!form) {
    decision.failure = form.error();
    co_return decision;
  }
  auto request = parse_token_exchange(*form);
  if (!request) {
    decision.failure = request.error();
    co_return decision;
  }
  decision.claimed_type = request->subject.type;
  if (!request->subject.evidence.empty()) {
    decision.evidence_sha256 =
        sha256_hex(std::string_view(reinterpret_cast<const char*>(request->subject.evidence.data()),
                                    request->subject.evidence.size()));
  }
  auto audience = deps_.issuer->choose_audience(request->targets);
  if (!audience) {
    decision.failure = audience.error();
    co_return decision;
  }
  // Fail closed: evidence of type none proves nothing, whatever the policy says about peers.
  if (request->subject.type == attest::AttestationType::None) {
    decision.failure = Failure{make_error_code(Errc::RequesterUnattested)};
    co_return decision;
  }

  // The nonce was checked by the proof verifier (require_nonce), so it is present.
  const attest::ReportData expected =
      token_request_report_data(proof->key.thumbprint_bytes(), proof->nonce.value_or(""));
  auto appraiser = deps_.appraisers->get();
  auto appraise = [appraiser, message = std::move(request->subject), expected, now] {
    return appraiser->appraise(message, expected, now);
  };
  auto appraised =
      co_await offload(deps_.attestation_executor, std::move(appraise), options_.appraisal_timeout);
  decision.appraised = true;
  if (!appraised) {
    decision.failure = Failure{make_error_code(ratls::Errc::AttestationTimeout),
                               "appraising the requester's evidence"};
    co_return decision;
  }
  if (!*appraised) {
    decision.failure = appraised->error();
    co_return decision;
  }
  decision.peer = std::move(**appraised);
  if (!decision.peer->attested()) {
    // The policy accepts none and downgraded the requester: still no token.
    decision.failure =
        Failure{make_error_code(Errc::RequesterUnattested), decision.peer->downgrade_reason};
    co_return decision;
  }

  TokenSubject subject;
  subject.peer = &*decision.peer;
  subject.evidence_sha256 = decision.evidence_sha256;
  subject.key_thumbprint = decision.key_thumbprint;
  auto token = deps_.issuer->issue(subject, *audience, now);
  if (!token) {
    decision.failure = token.error();
    co_return decision;
  }
  decision.token = std::move(*token);
  co_return decision;
}

void TokenService::record(const Decision& decision, const std::string& peer) {
  const std::string type = decision.claimed_type
                               ? std::string(attest::to_string(*decision.claimed_type))
                               : std::string("unknown");
  auto& proxy = *deps_.proxy_metrics;
  const std::string role(kRole);
  if (decision.token) {
    metrics_.issued.with({"DPoP"}).inc();
    proxy.verifications.with({role, type, "accepted"}).inc();
    spdlog::info("token {} issued to {} ({} {}, key {}) for {} ({} s)", decision.token->jti, peer,
                 type, decision.peer->matched_record, decision.key_thumbprint,
                 decision.token->audience, decision.token->expires_in.count());
  } else {
    const std::string reason = error_id(decision.failure.code);
    metrics_.rejected.with({reason}).inc();
    if (decision.appraised) {
      proxy.verifications.with({role, type, "rejected"}).inc();
      if (ops::is_policy_violation(decision.failure.code)) {
        proxy.policy_violations.with({role, reason}).inc();
      } else {
        proxy.attestation_failures.with({role, type, reason}).inc();
      }
    }
    // The nonce round trip is part of every exchange, not worth more than a debug line.
    const bool nonce_round = oauth_error_for(decision.failure.code) == "use_dpop_nonce";
    spdlog::log(nonce_round ? spdlog::level::debug : spdlog::level::warn,
                "token request from {} refused: {}", peer, decision.failure.describe());
  }
  // Attestation decisions go to the audit log; requests that never got as far as evidence
  // (nonce round trips, malformed forms) are in the metrics and the log only.
  if (!deps_.audit || !decision.claimed_type) {
    return;
  }
  nlohmann::json event{
      {"event", "token"},
      {"role", role},
      {"peer", peer},
      {"peer_type", type},
      {"evidence_sha256", decision.evidence_sha256},
      {"key_thumbprint", decision.key_thumbprint},
      {"decision", decision.token ? "issued" : "rejected"},
  };
  if (decision.peer && decision.peer->claims) {
    event["measurements"] = ops::measurements_json(decision.peer->claims->measurements);
    event["tcb_status"] = decision.peer->claims->tcb_status;
    event["matched_record"] = decision.peer->matched_record;
  }
  if (decision.token) {
    event["jti"] = decision.token->jti;
    event["audience"] = decision.token->audience;
    event["expires_in"] = decision.token->expires_in.count();
  } else {
    event["reason"] = error_id(decision.failure.code);
    event["detail"] = decision.failure.detail;
  }
  deps_.audit->append(std::move(event));
}

}  // namespace atls::sts
