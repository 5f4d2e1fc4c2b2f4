#pragma once
// `--config FILE`: YAML configuration mapped onto the same options as the flags.
//
// Two forms may be mixed in one file (docs/configuration.md):
//  * the design document's schema (seeds/002): `proxy.listen`, `proxy.backend`,
//    `attestation.provider`, `attestation.policy.*`, `logging.*`, `policy.*`, `admin.*`;
//  * flag form: any global flag by its long name (`measurements-file: policy.json`) and a
//    mapping per subcommand with its flags and positionals (`server: {target_addr: ..., ...}`).
// Precedence: command-line flags > environment variables > file. Unknown keys, keys the
// proxy cannot honour (e.g. `tokens`, inline seed measurements) and malformed values are
// errors naming the line. `mode: server|client|...` selects the subcommand when the command
// line names none (`atls-proxy --config proxy.yaml`).

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace atls::cli {

/// CLI11 configuration reader for YAML. `app` is the root application (used to find the
/// subcommand being run, to validate keys, and to skip options whose environment variable is
/// set, so that the environment overrides the file). Throws CLI::ConfigError with the line.
class YamlConfig final : public CLI::Config {
 public:
  explicit YamlConfig(const CLI::App* app) : app_(app) {}

  std::string to_config(const CLI::App*, bool, bool, std::string) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  /// Converts `text` for the subcommand `subcommand` (empty: the one parsed on the command
  /// line). Exposed for `config check` and tests.
  std::vector<CLI::ConfigItem> translate(const std::string& text,
                                         const std::string& subcommand) const;

 private:
  const CLI::App* app_;
};

/// The `mode` key of a YAML config file, if present and a string (used before parsing to
/// pick the subcommand). Errors are reported later by the full parse.
std::optional<std::string> config_mode(const std::string& path);

/// Seconds of a duration such as "60s", "5m", "1h", "250ms" or a plain number of seconds;
/// nullopt when malformed or negative.
std::optional<double> parse_duration_seconds(const std::string& text);

}  // namespace atls::cli
