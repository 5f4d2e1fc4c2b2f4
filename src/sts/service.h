#pragma once
// The token service's HTTP endpoints (docs/token-service.md):
//
//   POST /token                                  RFC 8693 token exchange with a DPoP proof
//   GET  /.well-known/oauth-authorization-server RFC 8414 metadata
//   GET  /jwks                                   the signing key (RFC 7517 §5)
//
// A token request is answered in this order:
//   1. DPoP proof (RFC 9449 §4.3). A missing or stale nonce gets 400 use_dpop_nonce with a fresh
//      DPoP-Nonce header (§8): that first round trip is how a client learns the nonce its
//      evidence must bind. Any other proof failure: 400 invalid_dpop_proof.
//   2. The form (RFC 8693 §2.1): 400 invalid_request / unsupported_grant_type / invalid_target /
//      invalid_scope.
//   3. The evidence, appraised (verifier, then policy) on the attestation pool against the
//      report data of sts/token_exchange.h, exactly as a channel peer's: 400 invalid_grant with
//      the named error on failure. Unattested (none) requesters never get a token.
//   4. The token: 200 with token_type DPoP and Cache-Control: no-store (RFC 6749 §5.1).
// Error bodies are RFC 6749 §5.2 JSON; error_description is the named error id, never text the
// requester sent. Every decision is counted, logged in one line and audited.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "core/clock.h"
#include "http/exchange.h"
#include "ops/audit_log.h"
#include "ops/channel_recorder.h"
#include "ops/metrics.h"
#include "ratls/channel.h"
#include "sts/dpop/dpop.h"
#include "sts/issuer.h"

namespace atls::sts {

struct TokenServiceOptions {
  /// The token endpoint's external URL: what DPoP proofs must name in "htu" (RFC 9449 §4.3
  /// check 9: behind a load balancer this is the public URL, not the listener's address).
  std::string token_endpoint;
  /// The JWKS URL advertised in the metadata.
  std::string jwks_uri;
  /// Largest accepted request body (an attestation message is at most 64 KiB, interop spec
  /// §2.2, so its base64url form stays under 88 KiB).
  std::size_t max_body_bytes = std::size_t{256} * 1024;
  /// Deadline for appraising one request's evidence on the attestation pool.
  std::chrono::milliseconds appraisal_timeout{std::chrono::seconds(30)};
};

/// Metrics of the token service (docs/metrics.md).
struct TokenServiceMetrics {
  explicit TokenServiceMetrics(ops::Registry& registry);
  ops::CounterFamily& issued;    // atls_token_issues_total{token_type}
  ops::CounterFamily& rejected;  // atls_token_requests_rejected_total{reason}
  ops::CounterFamily& nonces;    // atls_token_dpop_nonces_issued_total
};

class TokenService : public std::enable_shared_from_this<TokenService> {
 public:
  struct Dependencies {
    std::shared_ptr<const TokenIssuer> issuer;
    std::shared_ptr<dpop::ProofVerifier> proofs;
    /// The appraiser in force (replaced on reload).
    std::shared_ptr<ratls::AppraiserSlot> appraisers;
    boost::asio::any_io_executor attestation_executor;
    std::shared_ptr<const Clock> clock;
    std::shared_ptr<ops::Registry> registry;
    /// Operations-wide counters (verifications, failures, policy violations) under role "sts".
    std::shared_ptr<ops::ProxyMetrics> proxy_metrics;
    std::shared_ptr<ops::AuditLog> audit;  ///< may be null
  };

  TokenService(Dependencies dependencies, TokenServiceOptions options);

  /// The request handler for the listener; holds the service alive.
  http::RequestHandler handler();

 private:
  struct Decision;
  boost::asio::awaitable<void> handle(http::ServerExchangePtr exchange);
  boost::asio::awaitable<void> handle_token(http::ServerExchangePtr exchange);
  boost::asio::awaitable<Decision> decide(const http::ServerExchange* exchange,
                                          const std::string* body);
  void record(const Decision& decision, const std::string& peer);
  nlohmann::json metadata() const;

  Dependencies deps_;
  TokenServiceOptions options_;
  TokenServiceMetrics metrics_;
};

}  // namespace atls::sts
