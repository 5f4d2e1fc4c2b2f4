#pragma once
// The command line: every subcommand registered on one CLI11 application, parsed once at
// start-up and again by a reload that re-reads the config file (cli/reload.h).

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"

namespace atls::cli {

/// Parses the command line, runs the chosen subcommand and returns the process exit code.
int run(int argc, char** argv);

/// Registers the global options, --config and every subcommand on `app`, bound to `global`;
/// the chosen subcommand's callback sets `action`.
void build_app(CLI::App& app, GlobalOptions& global, std::function<int()>& action);

/// The values of the options that were given (flag, environment or file) on a parsed `app`.
OptionValues option_values(const CLI::App& app);

/// Parses `arguments` (GlobalOptions::launch::arguments) again on a fresh application,
/// re-reading the config file and the environment; the result has launch and command_tls
/// recorded. Errors are cli.config_invalid with CLI11's
/// message (which names the line of a bad config key).
Outcome<GlobalOptions> parse_command_line(const std::vector<std::string>& arguments);

}  // namespace atls::cli
