#pragma once
// Registration of every subcommand (one file per subcommand implements its function).

#include <CLI/CLI.hpp>
#include <functional>

#include "cli/common.h"

namespace atls::cli {

/// Each adds its subcommand to `app`; when it is chosen, `action` is set to the code to run.
void add_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_client_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_get_tls_cert_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_attested_get_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_file_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_verify_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_mock_tee_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_collateral_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_config_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_audit_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_pg_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_pg_client_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_token_service_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);
void add_get_token_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action);

/// Client TLS flags shared by client-like subcommands (§8.2, §8.4, §8.6).
void add_client_tls_flags(CLI::App& command, ClientTlsFlags& tls, bool with_client_certificate);

}  // namespace atls::cli
