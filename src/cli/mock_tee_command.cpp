// `mock-tee init DIR`: creates the INSECURE mock TEE PKIs used by tests and the demo
// (attest/mock/mock_tee.h). The keys are generated now, on this machine; nothing is shipped.
#include <spdlog/spdlog.h>

#include "attest/mock/mock_tee.h"
#include "cli/commands.h"

namespace atls::cli {

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
}

}  // namespace atls::cli
