#pragma once
// Reload without a restart (docs/operations.md "Reload"). SIGHUP, and with --reload-on-change
// a change of a file the configuration is read from, re-read everything a running proxy can
// take over live, all or nothing:
//  * the config file (when the process was started with --config / ATLS_CONFIG): the command
//    line is parsed again, so flags and the environment still win over the file;
//  * the policy: measurements file or URL, accepted attestation type, TCB statuses, TDX
//    collateral files, the Azure outdated-TCB override;
//  * the certificates and keys (and their file names, when the config file changes them);
//  * the log level (--log-debug / logging.level).
// Any error (a config file that no longer parses, an unreadable policy, a key that does not
// match its certificate) rejects the whole reload: the previous settings stay in force, and
// the failure is logged and counted in atls_config_reloads_total{result="failure"}. Changed
// options that cannot be applied to a running process (listen addresses, the target, the
// attestation type, the admin listener, …) are logged as needing a restart; their running
// values stay.

#include <string>
#include <string_view>
#include <vector>

#include "cli/common.h"

namespace atls::cli {

/// Whether a change of `key` (an OptionValues key) is applied by a reload. TLS file options
/// count only when the command reloads certificates (`reloads_tls`).
bool is_reloadable_option(std::string_view key, bool reloads_tls);

/// The running options after a reload: `running` with the reloadable options taken from
/// `reparsed`. `needs_restart` receives the keys of the other options that differ.
GlobalOptions merge_reloadable(const GlobalOptions& running, const GlobalOptions& reparsed,
                               bool reloads_tls, std::vector<std::string>& needs_restart);

/// The local files the running options read that a reload would read again (config file,
/// measurements file, collateral files, certificates and keys); watched by --reload-on-change.
std::vector<std::string> reloadable_files(const GlobalOptions& options);

/// Reloads on SIGHUP and, with --reload-on-change, when reloadable_files() change. Call once
/// the command has set Operations::on_policy_reloaded and tls_reloader. `global` is the
/// start-up options (copied).
void reload_on_sighup(Runtime& runtime, const GlobalOptions& global, Operations& operations);

}  // namespace atls::cli
