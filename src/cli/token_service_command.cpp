// `token-service`: the RFC 8693 token exchange for attested workloads (docs/token-service.md).
// Workloads in TEEs exchange fresh evidence bound to their DPoP key for short-lived DPoP-bound
// JWT access tokens; the evidence is appraised with the same verifiers, policy, collateral and
// operations (metrics, audit, reload, drain) as a proxy-server's peers.
#include <spdlog/spdlog.h>

#include "attest/none/none_attester.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/reload.h"
#include "net/address.h"
#include "proxy/http/https_server.h"
#include "sts/service.h"
#include "tls/credentials.h"

namespace atls::cli {
namespace {

struct TokenServiceOptions {
  std::string listen = "0.0.0.0:8443";
  ServerTlsFlags tls;
  std::string signing_key;
  std::string issuer;
  std::vector<std::string> audiences;
  unsigned token_ttl_seconds = 300;
  unsigned nonce_window_seconds = 60;
  unsigned proof_max_age_seconds = 300;
};

/// The issuer URL without a trailing slash, and the endpoint URLs derived from it.
struct Endpoints {
  std::string issuer;
  std::string token;
  std::string jwks;
};

Outcome<Endpoints> endpoints_for(const std::string& issuer) {
  auto url = net::parse_url(issuer);
  if (!url) {
    Failure failure = url.error();
    failure.detail = "--issuer: " + failure.detail;
    return failure;
  }
  if (url->scheme != "https") {
    return Failure{make_error_code(Errc::ConfigInvalid),
                   "--issuer must be an https URL (RFC 8414 §2)"};
  }
  if (url->target.find('?') != std::string::npos) {
    return Failure{make_error_code(Errc::ConfigInvalid),
                   "--issuer must not have a query (RFC 8414 §2)"};
  }
  Endpoints endpoints;
  endpoints.issuer = issuer;
  while (endpoints.issuer.size() > 1 && endpoints.issuer.back() == '/') {
    endpoints.issuer.pop_back();
  }
  endpoints.token = endpoints.issuer + "/token";
  endpoints.jwks = endpoints.issuer + "/jwks";
  return endpoints;
}

int run_token_service(const GlobalOptions& global, const TokenServiceOptions& options) {
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
    return kExitUsage;
  }
  auto endpoints = endpoints_for(options.issuer);
  if (!endpoints) {
    spdlog::error("{}", endpoints.error().describe());
    return kExitUsage;
  }
  if (!options.tls.certificate_path || !options.tls.private_key_path) {
    // Unlike the proxy-server, nothing attests this listener's key: requesters must be able to
    // verify it by its certificate.
    spdlog::error("token-service needs --tls-certificate-path and --tls-private-key-path");
    return kExitUsage;
  }
  auto signing_key = tls::load_private_key(options.signing_key);
  if (!signing_key) {
    spdlog::error("--signing-key: {}", signing_key.error().describe());
    return kExitUsage;
  }
  auto signer = sts::jose::Signer::from_private_key(std::move(*signing_key));
  if (!signer) {
    spdlog::error("--signing-key: {} (use a P-256, P-384 or Ed25519 key)",
                  describe(signer.error()));
    return kExitUsage;
  }
  auto sources = open_verification_sources(global);
  if (!sources) {
    spdlog::error("{}", sources.error().describe());
    return kExitUsage;
  }
  auto appraiser = make_appraiser(global, **sources);
  if (!appraiser) {
    spdlog::error("{}", appraiser.error().describe());
    return kExitUsage;
  }
  auto tls = make_server_tls(options.tls, *listen, {"http/1.1"});
  if (!tls) {
    spdlog::error("{}", tls.error().describe());
    return kExitUsage;
  }

  Runtime runtime;
  // The service verifies and never attests itself.
  const attest::AttesterPtr no_attester = std::make_shared<attest::NoneAttester>();
  auto operations = start_operations(global, runtime, no_attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }

  sts::IssuerOptions issuer_options;
  issuer_options.issuer = endpoints->issuer;
  issuer_options.audiences = options.audiences;
  issuer_options.ttl = std::chrono::seconds(options.token_ttl_seconds);
  sts::dpop::VerifierOptions proof_options;
  proof_options.nonce_window = std::chrono::seconds(options.nonce_window_seconds);
  proof_options.max_age = std::chrono::seconds(options.proof_max_age_seconds);

  sts::TokenService::Dependencies deps;
  deps.issuer = std::make_shared<const sts::TokenIssuer>(std::move(*signer), issuer_options);
  deps.proofs = std::make_shared<sts::dpop::ProofVerifier>(proof_options);
  deps.appraisers = (*operations)->appraisers;
  deps.attestation_executor = runtime.attestation_executor();
  deps.clock = std::make_shared<SystemClock>();
  deps.registry = (*operations)->registry;
  deps.proxy_metrics = (*operations)->metrics;
  deps.audit = (*operations)->audit;
  sts::TokenServiceOptions service_options;
  service_options.token_endpoint = endpoints->token;
  service_options.jwks_uri = endpoints->jwks;
  service_options.appraisal_timeout = global.step_timeout();
  const std::string key_id = deps.issuer->key_id();
  auto service = std::make_shared<sts::TokenService>(std::move(deps), service_options);

  proxy::HttpsServerOptions server_options;
  server_options.listen = *listen;
  server_options.tls = *tls;
  server_options.max_connections = global.max_connections;
  server_options.on_connection_refused = count_refused_connections(**operations, "token");
  server_options.handshake_timeout = global.step_timeout();
  server_options.h1.idle_timeout = global.idle_timeout();
  proxy::HttpsServer server(runtime, server_options, service->handler());
  // Tokens already issued stay valid until they expire (at most --token-ttl): a policy reload
  // applies to the next exchange, there are no open channels to re-check.
  *(*operations)->tls_reloader = server_tls_reloader(
      global, *listen, {"http/1.1"},
      [&server](tls::SharedSslContext context) { server.replace_tls_context(std::move(context)); });
  auto bound = server.start();
  if (!bound) {
    spdlog::error("{}", bound.error().describe());
    return kExitUsage;
  }
  reload_on_sighup(runtime, global, **operations);
  stop_on_signals(
      runtime,
      [&server, &operations] {
        server.drain();
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&server] { return server.open_connections() == 0; });
  spdlog::info(
      "token service listening on {}:{} (issuer {}, token endpoint {}, signing key {}, tokens "
      "valid {} s)",
      bound->address().to_string(), bound->port(), endpoints->issuer, endpoints->token, key_id,
      options.token_ttl_seconds);
  runtime.run();
  return kExitOk;
}

}  // namespace

void add_token_service_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<TokenServiceOptions>();
  auto* command = app.add_subcommand(
      "token-service",
      "Issue short-lived DPoP-bound access tokens to workloads that prove what they run "
      "(RFC 8693 token exchange, docs/token-service.md)");
  command->add_option("-l,--listen-addr", options->listen, "Address of the HTTPS listener")
      ->capture_default_str();
  command
      ->add_option("--tls-certificate-path", options->tls.certificate_path,
                   "PEM certificate chain of the listener, leaf first")
      ->required();
  command
      ->add_option("--tls-private-key-path", options->tls.private_key_path,
                   "PEM private key of the listener")
      ->required();
  command->add_flag("--client-auth", options->tls.client_auth,
                    "Also require a client certificate (verified against the system roots and "
                    "--client-ca-certificate)");
  command->add_option("--client-ca-certificate", options->tls.client_ca_certificate,
                      "PEM file of extra trust anchors for client certificates");
  command
      ->add_option("--signing-key", options->signing_key,
                   "PEM private key that signs the tokens (P-256 → ES256, P-384 → ES384, "
                   "Ed25519 → EdDSA)")
      ->required();
  command
      ->add_option("--issuer", options->issuer,
                   "The service's public https URL: the tokens' iss; the token endpoint is "
                   "<issuer>/token")
      ->required();
  command
      ->add_option("--audience", options->audiences,
                   "An audience tokens may be issued for (repeatable; the first is the default)")
      ->required();
  command->add_option("--token-ttl", options->token_ttl_seconds, "Token lifetime in seconds")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  command
      ->add_option("--dpop-nonce-window", options->nonce_window_seconds,
                   "Seconds a DPoP nonce is current; evidence older than two windows is refused")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  command
      ->add_option("--dpop-max-age", options->proof_max_age_seconds,
                   "Oldest DPoP proof accepted, in seconds (its iat)")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  command->callback([&global, &action, options] {
    global.command_tls.server = options->tls;
    action = [&global, options] { return run_token_service(global, *options); };
  });
}

}  // namespace atls::cli
