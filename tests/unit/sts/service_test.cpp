// TokenService end to end in one process: a requester with an EchoAttester (evidence binds
// whatever report data it is given) talks to the service through a captured exchange, with a
// fixed clock. Covers the decision order of sts/service.h and that evidence must bind the
// proof's key and the current nonce.
#include "sts/service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/body_pipe.h"
#include "ops/channel_recorder.h"
#include "policy/measurement_policy.h"
#include "sts/dpop/dpop.h"
#include "sts/form.h"
#include "sts/jose/base64url.h"
#include "sts/token_exchange.h"
#include "support/fake_attestation.h"

namespace atls::sts {
namespace {

namespace asio = boost::asio;

// Echo evidence reports 48-byte 0x11 registers (tests/support/fake_attestation.h).
constexpr std::string_view kPolicy =
    R"([{"measurement_id":"echo-workload","attestation_type":"dcap-tdx",)"
    R"("measurements":{"mrtd":{"expected":")"
    "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
    "11"
    R"("}}}])";
const SystemTime kNow = SystemTime{} + std::chrono::seconds(1'800'000'000);
constexpr std::string_view kEndpoint = "https://sts.example.test/token";

class CapturedExchange final : public http::ServerExchange {
 public:
  CapturedExchange(std::string method, std::string target, std::string body,
                   std::vector<std::string> proofs, std::string content_type) {
    request_.method = std::move(method);
    request_.target = std::move(target);
    request_.headers.add("content-type", content_type);
    for (const auto& proof : proofs) {
      request_.headers.add("dpop", proof);
    }
    request_body_ = std::make_shared<http::BodyPipe>();
    request_body_->write(as_bytes(body));
    request_body_->finish();
    peer_address_ = asio::ip::make_address("127.0.0.1");
  }
  void send_informational(const http::ResponseHead&) override {}
  void send_response(http::ResponseHead head, http::BodyPipePtr body) override {
    response = std::move(head);
    if (body) {
      std::vector<std::uint8_t> buffer(body->buffered());
      buffer.resize(body->read_into(buffer));
      response_body.assign(buffer.begin(), buffer.end());
    }
    done = true;
  }
  bool responded() const noexcept override { return done; }

  http::ResponseHead response;
  std::string response_body;
  bool done = false;
};

class TokenServiceTest : public ::testing::Test {
 protected:
  TokenServiceTest() {
    auto policy = policy::MeasurementPolicy::parse(std::string(kPolicy), "inline").value();
    auto appraiser = std::make_shared<const ratls::Appraiser>(
        std::make_shared<const policy::MeasurementPolicy>(std::move(policy)),
        std::vector<attest::VerifierPtr>{std::make_shared<testing::EchoVerifier>()});
    registry_ = std::make_shared<ops::Registry>();
    TokenService::Dependencies deps;
    IssuerOptions issuer;
    issuer.issuer = "https://sts.example.test";
    issuer.audiences = {"db", "api"};
    issuer.ttl = std::chrono::seconds(60);
    deps.issuer = std::make_shared<const TokenIssuer>(
        jose::Signer::generate(jose::Algorithm::ES256).value(), issuer);
    deps.proofs = std::make_shared<dpop::ProofVerifier>();
    proofs_ = deps.proofs;
    deps.appraisers = std::make_shared<ratls::AppraiserSlot>(appraiser);
    deps.attestation_executor = pool_.get_executor();
    deps.clock = std::make_shared<FixedClock>(kNow);
    deps.registry = registry_;
    deps.proxy_metrics = std::make_shared<ops::ProxyMetrics>(registry_);
    issuer_ = deps.issuer;
    TokenServiceOptions options;
    options.token_endpoint = std::string(kEndpoint);
    options.jwks_uri = "https://sts.example.test/jwks";
    service_ = std::make_shared<TokenService>(std::move(deps), options);
  }

  std::shared_ptr<CapturedExchange> post(
      const std::string& body, std::vector<std::string> proofs,
      std::string content_type = "application/x-www-form-urlencoded") {
    return serve(std::make_shared<CapturedExchange>("POST", "/token", body, std::move(proofs),
                                                    std::move(content_type)));
  }

  std::shared_ptr<CapturedExchange> serve(std::shared_ptr<CapturedExchange> exchange) {
    auto handler = service_->handler();
    auto run = handler(exchange);
    asio::co_spawn(io_, std::move(run), asio::detached);
    io_.restart();
    io_.run();
    EXPECT_TRUE(exchange->done);
    return exchange;
  }

  std::string proof(const jose::Signer& key, std::optional<std::string> nonce,
                    std::string_view htu = kEndpoint) {
    return dpop::make_proof(key, "POST", htu, kNow, nonce, std::nullopt).value();
  }

  std::string nonce() { return proofs_->nonces().current(kNow); }

  static std::string evidence_body(
      const jose::Signer& bound_key, const std::string& nonce,
      std::vector<std::string> audiences = {},
      testing::EchoAttester::Mode mode = testing::EchoAttester::Mode::Honest) {
    const testing::EchoAttester attester(attest::AttestationType::DcapTdx, 0, mode);
    const auto evidence = attester.generate(
        token_request_report_data(bound_key.public_jwk().thumbprint_bytes(), nonce));
    return make_token_exchange_body({attest::AttestationType::DcapTdx, evidence.value()},
                                    audiences);
  }

  static std::pair<std::string, std::string> error_of(const CapturedExchange& exchange) {
    const auto body = nlohmann::json::parse(exchange.response_body);
    return {body.at("error").get<std::string>(), body.at("error_description").get<std::string>()};
  }

  double rejected(const std::string& reason) {
    const std::string text = registry_->render();
    const std::string prefix = "atls_token_requests_rejected_total{reason=\"" + reason + "\"} ";
    const auto at = text.find(prefix);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + prefix.size()));
  }

  asio::io_context io_;
  asio::thread_pool pool_{1};
  std::shared_ptr<ops::Registry> registry_;
  std::shared_ptr<dpop::ProofVerifier> proofs_;
  std::shared_ptr<const TokenIssuer> issuer_;
  std::shared_ptr<TokenService> service_;
  jose::Signer key_ = jose::Signer::generate(jose::Algorithm::ES256).value();
};

TEST_F(TokenServiceTest, IssuesADpopBoundTokenForEvidenceBindingKeyAndNonce) {
  // Round 1: no nonce yet -> use_dpop_nonce with the current nonce.
  auto first = post("grant_type=" + form_encode(kTokenExchangeGrant), {proof(key_, std::nullopt)});
  EXPECT_EQ(first->response.status, 400);
  EXPECT_EQ(error_of(*first),
            std::make_pair(std::string("use_dpop_nonce"), std::string("dpop.nonce_required")));
  ASSERT_EQ(first->response.headers.get("dpop-nonce"), std::optional<std::string_view>(nonce()));

  auto issued = post(evidence_body(key_, nonce(), {"api"}), {proof(key_, nonce())});
  ASSERT_EQ(issued->response.status, 200) << issued->response_body;
  EXPECT_EQ(issued->response.headers.get("cache-control"),
            std::optional<std::string_view>("no-store"));
  const auto answer = nlohmann::json::parse(issued->response_body);
  EXPECT_EQ(answer.at("token_type"), "DPoP");
  EXPECT_EQ(answer.at("expires_in"), 60);

  // The token verifies with the issuer's key and carries the binding and the claims.
  const std::array algorithms{jose::Algorithm::ES256};
  auto jws = jose::parse_compact(answer.at("access_token").get<std::string>(), algorithms);
  ASSERT_TRUE(jws);
  const auto issuer_key = jose::parse_public_jwk(issuer_->jwks().at("keys").at(0)).value();
  EXPECT_TRUE(jose::verify_signature(*jws, issuer_key));
  EXPECT_EQ(jws->header.at("typ"), "at+jwt");
  const auto claims = nlohmann::json::parse(jws->payload);
  EXPECT_EQ(claims.at("cnf").at("jkt"), key_.public_jwk().thumbprint());
  EXPECT_EQ(claims.at("aud"), "api");
  EXPECT_EQ(claims.at("sub"), "echo-workload");
  EXPECT_EQ(claims.at("iat"), 1'800'000'000);
  EXPECT_EQ(claims.at("exp"), 1'800'000'060);
  EXPECT_EQ(claims.at("atls").at("attestation_type"), "dcap-tdx");
  EXPECT_EQ(claims.at("atls").at("measurements").at("0"), std::string(96, '1'));
  EXPECT_NE(registry_->render().find("atls_token_issues_total{token_type=\"DPoP\"} 1"),
            std::string::npos);
}

TEST_F(TokenServiceTest, EvidenceForAnotherKeyIsRefused) {
  // The attacker has evidence bound to the victim's key, but proves possession of its own.
  const auto victim = jose::Signer::generate(jose::Algorithm::ES256).value();
  auto refused = post(evidence_body(victim, nonce()), {proof(key_, nonce())});
  EXPECT_EQ(refused->response.status, 400);
  EXPECT_EQ(error_of(*refused).first, "invalid_grant");
  EXPECT_EQ(error_of(*refused).second, "fake.report_data_mismatch");
}

TEST_F(TokenServiceTest, EvidenceForAnotherNonceIsRefused) {
  auto refused = post(evidence_body(key_, "an-older-nonce"), {proof(key_, nonce())});
  EXPECT_EQ(error_of(*refused),
            std::make_pair(std::string("invalid_grant"), std::string("fake.report_data_mismatch")));
  auto broken = post(evidence_body(key_, nonce(), {}, testing::EchoAttester::Mode::WrongBinding),
                     {proof(key_, nonce())});
  EXPECT_EQ(error_of(*broken).second, "fake.report_data_mismatch");
}

TEST_F(TokenServiceTest, DecisionsFollowTheDocumentedOrder) {
  // No proof: the proof is checked before the form.
  EXPECT_EQ(error_of(*post("garbage=%zz", {})).second, "dpop.proof_missing");
  // A valid proof with a broken form: the form error.
  EXPECT_EQ(error_of(*post("a=%zz", {proof(key_, nonce())})).second, "sts.form_malformed");
  EXPECT_EQ(error_of(*post("grant_type=password", {proof(key_, nonce())})),
            std::make_pair(std::string("unsupported_grant_type"),
                           std::string("sts.unsupported_grant_type")));
  // Audience checked before the evidence is appraised.
  EXPECT_EQ(error_of(*post(evidence_body(key_, nonce(), {"elsewhere"}), {proof(key_, nonce())})),
            std::make_pair(std::string("invalid_target"), std::string("sts.invalid_target")));
  // A proof for another URI.
  EXPECT_EQ(error_of(*post(evidence_body(key_, nonce()),
                           {proof(key_, nonce(), "https://sts.example.test/other")}))
                .second,
            "dpop.uri_mismatch");
  // Media types compare case-insensitively, parameters aside (RFC 9110 §8.3.1).
  EXPECT_EQ(error_of(*post("grant_type=password", {proof(key_, nonce())},
                           "Application/X-WWW-Form-URLencoded ; charset=utf-8"))
                .second,
            "sts.unsupported_grant_type");
  // Not a form.
  auto json = post("{}", {proof(key_, nonce())}, "application/json");
  EXPECT_EQ(error_of(*json).second, "sts.form_malformed");
  EXPECT_EQ(rejected("sts.form_malformed"), 2);
  EXPECT_EQ(rejected("dpop.proof_missing"), 1);
}

TEST_F(TokenServiceTest, NoneEvidenceNeverGetsAToken) {
  const std::string body = make_token_exchange_body({attest::AttestationType::None, {}}, {});
  EXPECT_EQ(error_of(*post(body, {proof(key_, nonce())})),
            std::make_pair(std::string("invalid_grant"), std::string("sts.requester_unattested")));
}

TEST_F(TokenServiceTest, MetadataAndJwks) {
  const auto get = [&](std::string target) {
    return serve(std::make_shared<CapturedExchange>("GET", std::move(target), "",
                                                    std::vector<std::string>{}, ""));
  };
  auto metadata = get("/.well-known/oauth-authorization-server");
  ASSERT_EQ(metadata->response.status, 200);
  const auto body = nlohmann::json::parse(metadata->response_body);
  EXPECT_EQ(body.at("token_endpoint"), kEndpoint);
  EXPECT_EQ(body.at("grant_types_supported").at(0), kTokenExchangeGrant);
  auto jwks = get("/jwks");
  ASSERT_EQ(jwks->response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(jwks->response_body).at("keys").at(0).at("kid"),
            issuer_->key_id());
  EXPECT_EQ(get("/nope")->response.status, 404);
  EXPECT_EQ(
      serve(std::make_shared<CapturedExchange>("GET", "/token", "", std::vector<std::string>{}, ""))
          ->response.status,
      405);
}

}  // namespace
}  // namespace atls::sts
