// `get-token`: the workload side of the token service (docs/token-service.md). Run inside the
// TEE: proves possession of a DPoP key and what the workload runs, and prints the token
// response (RFC 8693 §2.2.1 JSON) on stdout.
//
//   1. POST with a DPoP proof and no evidence: the service answers use_dpop_nonce and a
//      DPoP-Nonce (RFC 9449 §8).
//   2. Evidence binding the key's thumbprint and that nonce (sts/token_exchange.h), then the
//      token-exchange POST with a proof carrying the nonce. A nonce that rotated in between
//      gets one more round.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/file_write.h"
#include "net/address.h"
#include "net/http_get.h"
#include "sts/dpop/dpop.h"
#include "sts/token_exchange.h"
#include "tls/certificate_builder.h"
#include "tls/credentials.h"

namespace atls::cli {
namespace {

struct GetTokenOptions {
  std::string token_endpoint;
  std::vector<std::string> audiences;
  std::string dpop_key;
  std::string attestation_type = "auto";
  std::optional<std::string> dev_dummy_dcap;
  std::optional<std::string> mock_tee;
  std::optional<std::string> ca_certificate;
  double timeout_seconds = 30.0;
};

/// Loads the DPoP key, or makes a P-256 key and stores it (mode 0600, never overwriting) so that
/// the workload can sign proofs with it when it uses the token.
Outcome<sts::jose::Signer> load_or_create_dpop_key(const std::string& path) {
  std::error_code exists_error;
  if (std::filesystem::exists(path, exists_error)) {
    auto key = tls::load_private_key(path);
    if (!key) {
      return key.error();
    }
    auto signer = sts::jose::Signer::from_private_key(std::move(*key));
    if (!signer) {
      return Failure{signer.error(), path + ": use a P-256, P-384 or Ed25519 key"};
    }
    return std::move(*signer);
  }
  auto key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  if (!key) {
    return key.error();
  }
  const std::string pem = tls::private_key_to_pem(key->get());
  if (auto written = write_new_file(path, pem, 0600); !written) {
    return Failure{written.error(), "writing " + path};
  }
  spdlog::info("new DPoP key (P-256) written to {}", path);
  auto signer = sts::jose::Signer::from_private_key(std::move(*key));
  if (!signer) {
    return Failure{signer.error()};
  }
  return std::move(*signer);
}

/// One POST of `body` with a fresh proof (carrying `nonce` when given).
Outcome<net::HttpResponse> post(const GetTokenOptions& options, const net::Url& url,
                                const sts::jose::Signer& signer, const std::string& body,
                                std::optional<std::string_view> nonce) {
  auto proof = sts::dpop::make_proof(signer, "POST", options.token_endpoint,
                                     std::chrono::system_clock::now(), nonce, std::nullopt);
  if (!proof) {
    return Failure{proof.error(), "making the DPoP proof"};
  }
  net::HttpGetOptions request;
  request.method = "POST";
  request.body = body;
  request.content_type = "application/x-www-form-urlencoded";
  request.headers = {{"DPoP", *proof}};
  request.ca_file = options.ca_certificate;
  request.timeout =
      std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1e3));
  request.max_body_bytes = 1 << 20;
  return net::http_request(url, request);
}

bool asks_for_nonce(const net::HttpResponse& response) {
  if (response.status != 400 || !response.header("dpop-nonce")) {
    return false;
  }
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  return body.is_object() && body.value("error", "") == "use_dpop_nonce";
}

int run_get_token(const GlobalOptions& /*global*/, const GetTokenOptions& options) {
  auto url = net::parse_url(options.token_endpoint);
  if (!url) {
    spdlog::error("token endpoint: {}", url.error().describe());
    return kExitUsage;
  }
  auto signer = load_or_create_dpop_key(options.dpop_key);
  if (!signer) {
    spdlog::error("--dpop-key: {}", signer.error().describe());
    return kExitUsage;
  }
  auto attester =
      make_local_attester(options.attestation_type, options.dev_dummy_dcap, options.mock_tee);
  if (!attester) {
    spdlog::error("{}", attester.error().describe());
    return kExitUsage;
  }
  // The first round only fetches the nonce: grant_type alone, no evidence.
  const std::string nonce_request = "grant_type=" + sts::form_encode(sts::kTokenExchangeGrant);
  auto response = post(options, *url, *signer, nonce_request, std::nullopt);
  for (int round = 0; round < 2; ++round) {
    if (!response) {
      spdlog::error("token endpoint {}: {}", options.token_endpoint, response.error().describe());
      return kExitConnection;
    }
    if (!asks_for_nonce(*response)) {
      break;
    }
    const std::string nonce(*response->header("dpop-nonce"));
    const auto report_data =
        sts::token_request_report_data(signer->public_jwk().thumbprint_bytes(), nonce);
    auto evidence = (*attester)->generate_evidence(report_data);
    if (!evidence) {
      spdlog::error("generating {} evidence: {}", attest::to_string((*attester)->type()),
                    evidence.error().describe());
      return kExitAttestation;
    }
    const std::string body = sts::make_token_exchange_body(
        ratls::AttestationMessage{(*attester)->type(), std::move(*evidence)}, options.audiences);
    response = post(options, *url, *signer, body, nonce);
  }
  if (!response) {
    spdlog::error("token endpoint {}: {}", options.token_endpoint, response.error().describe());
    return kExitConnection;
  }
  if (response->status != 200) {
    spdlog::error("token endpoint {} answered {}: {}", options.token_endpoint, response->status,
                  response->body.substr(0, 512));
    return response->status == 400 ? kExitAttestation : kExitHttpStatus;
  }
  std::cout << response->body;
  if (response->body.empty() || response->body.back() != '\n') {
    std::cout << '\n';
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitInternal;
}

}  // namespace

void add_get_token_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<GetTokenOptions>();
  auto* command = app.add_subcommand(
      "get-token",
      "Exchange this workload's attestation for a DPoP-bound access token from a token "
      "service; prints the token response (docs/token-service.md)");
  command
      ->add_option("token_endpoint", options->token_endpoint,
                   "The token endpoint URL (https://<issuer>/token)")
      ->required();
  command->add_option("--audience", options->audiences,
                      "Audience to request (default: the service's first)");
  command
      ->add_option("--dpop-key", options->dpop_key,
                   "PEM private key for DPoP proofs; a new P-256 key is written here (mode "
                   "0600) if the file does not exist")
      ->required();
  command
      ->add_option("--attestation-type", options->attestation_type,
                   "Local attestation type: auto, dcap-tdx, gcp-tdx, qemu-tdx, azure-tdx, "
                   "sev-snp, gcp-snp")
      ->capture_default_str();
  command->add_option("--dev-dummy-dcap", options->dev_dummy_dcap,
                      "Development: obtain evidence from an attestation provider service at "
                      "this private/loopback URL");
  command->add_option("--insecure-mock-tee", options->mock_tee,
                      "INSECURE, tests and demos only: attest with mock TEE evidence from this "
                      "directory (made by `mock-tee init`)");
  command->add_option("--tls-ca-certificate", options->ca_certificate,
                      "PEM file of trust anchors for the token service, added to the system roots");
  command->add_option("--timeout", options->timeout_seconds, "Seconds per HTTP request")
      ->capture_default_str();
  command->callback([&global, &action, options] {
    action = [&global, options] { return run_get_token(global, *options); };
  });
}

}  // namespace atls::cli
