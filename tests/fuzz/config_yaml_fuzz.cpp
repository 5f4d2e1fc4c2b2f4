// Fuzzes the YAML configuration reader (cli/config_file.h): any input must translate or fail
// with CLI::ConfigError (the CLI11 contract for configuration readers) — never crash, never
// throw anything else.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static CLI::App* app = [] {
    auto* root = new CLI::App;
    static std::string value;
    static double number = 0;
    static bool flag = false;
    root->add_option("--measurements-file", value);
    root->add_option("--max-attestation-age", number);
    root->add_flag("--log-json", flag);
    auto* server = root->add_subcommand("server");
    server->add_option("target_addr", value);
    server->add_option("--listen-addr", value);
    server->add_option("--server-attestation-type", value);
    server->add_option("--insecure-mock-tee", value);
    return root;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    atls::cli::YamlConfig reader(app);
    (void)reader.translate(text, "server");
  } catch (const CLI::ConfigError&) {
    // the documented failure
  } catch (...) {
    std::abort();
  }
  return 0;
}
