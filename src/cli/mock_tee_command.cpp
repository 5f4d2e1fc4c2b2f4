// `mock-tee init DIR`: creates the INSECURE mock TEE PKIs used by tests and the demo
// (attest/mock/mock_tee.h). The keys are generated now, on this machine; nothing is shipped.
// `mock-tee crl DIR --out FILE`: an AMD-style CRL signed by that directory's mock ARK, for a
// fake KDS (tests of --kds-crls).
#include <spdlog/spdlog.h>

#include <fstream>

#include "attest/mock/mock_tee.h"
#include "attest/mock/snp_mock.h"
#include "cli/commands.h"

namespace atls::cli {
namespace {

struct MockCrlOptions {
  std::string directory;
  std::string out;
  std::vector<std::string> revoke;
  double valid_seconds = 86400.0;
};

int issue_mock_crl(const MockCrlOptions& options) {
  auto pki = attest::mock::MockSnpPki::load(options.directory);
  if (!pki) {
    spdlog::error("{}", pki.error().describe());
    return kExitUsage;
  }
  bool revoke_ask = false;
  bool revoke_asvk = false;
  for (const auto& which : options.revoke) {
    revoke_ask = revoke_ask || which == "ask";
    revoke_asvk = revoke_asvk || which == "asvk";
  }
  // thisUpdate is now (whole seconds), so a later CRL is never older than an earlier one.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto next = now + std::chrono::seconds(static_cast<long long>(options.valid_seconds));
  auto crl = (*pki)->issue_crl(revoke_ask, revoke_asvk, now, next);
  if (!crl) {
    spdlog::error("{}", crl.error().describe());
    return kExitInternal;
  }
  std::ofstream file(options.out, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(crl->data()), static_cast<std::streamsize>(crl->size()));
  file.close();
  if (!file) {
    spdlog::error("cannot write {}", options.out);
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

void add_mock_tee_command(CLI::App& app, GlobalOptions& /*global*/, std::function<int()>& action) {
  auto directory = std::make_shared<std::string>();
  auto* command =
      app.add_subcommand("mock-tee", "INSECURE mock TEE for tests and demos without TEE hardware");
  auto* init =
      command->add_subcommand("init", "Generate mock TEE PKIs (keys included) into a directory");
  init->add_option("directory", *directory, "Directory to create")->required();
  command->require_subcommand(1);
  init->callback([&action, directory] {
    action = [directory] {
      auto made = attest::mock::init_mock_tee(*directory);
      if (!made) {
        spdlog::error("{}", made.error().describe());
        return static_cast<int>(kExitUsage);
      }
      spdlog::warn(
          "INSECURE mock TEE roots and keys written to {}; use them only for tests "
          "and demos (--insecure-mock-tee / --insecure-trust-mock-tee)",
          *directory);
      return static_cast<int>(kExitOk);
    };
  });

  auto crl_options = std::make_shared<MockCrlOptions>();
  auto* crl = command->add_subcommand(
      "crl", "Issue an AMD-style CRL (DER) signed by the mock ARK of a mock TEE directory");
  crl->add_option("directory", crl_options->directory, "Mock TEE directory (mock-tee init)")
      ->required();
  crl->add_option("--out", crl_options->out, "Output file (DER)")->required();
  crl->add_option("--revoke", crl_options->revoke, "Revoke the mock ask and/or asvk")
      ->check(CLI::IsMember({"ask", "asvk"}))
      ->delimiter(',');
  crl->add_option("--valid-for", crl_options->valid_seconds,
                  "Seconds from now (thisUpdate) to nextUpdate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  crl->callback(
      [&action, crl_options] { action = [crl_options] { return issue_mock_crl(*crl_options); }; });
}

}  // namespace atls::cli
