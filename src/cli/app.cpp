#include "cli/app.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <iostream>
#include <utility>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/config_file.h"
#include "cli/errors.h"
#include "core/io_backend.h"
#include "core/log.h"

#ifndef ATLS_VERSION
#define ATLS_VERSION "unknown"
#endif

namespace atls::cli {
namespace {

// Options valid before or after the subcommand (interop spec §8.1).
void add_global_options(CLI::App& app, GlobalOptions& global) {
  app.add_option("--measurements-file", global.measurements_file,
                 "Path or URL of a JSON measurements policy for the remote party")
      ->envname("MEASUREMENTS_FILE");
  app.add_option("--allowed-remote-attestation-type", global.allowed_remote_attestation_type,
                 "Without a measurements file: the one remote attestation type to accept "
                 "(none, tdx, dcap-tdx, gcp-tdx, qemu-tdx, azure-tdx)");
  app.add_option("--pccs-url", global.pccs_url,
                 "Fetch TDX collateral in the background from this PCCS or Intel PCS base URL "
                 "(cached in --collateral-cache-dir); without it and --collateral-cache-dir, "
                 "TDX verification is offline (--collateral files only)");
  app.add_option("--collateral-cache-dir", global.collateral_cache_dir,
                 "Run the TDX collateral service (upstream --pccs-url, default Intel PCS) with "
                 "this cache directory (default with --pccs-url: $ATLS_COLLATERAL_CACHE_DIR, "
                 "else $XDG_CACHE_HOME or ~/.cache /atls-proxy/collateral)");
  app.add_option("--collateral-prefetch", global.collateral_prefetch,
                 "Fetch the TDX collateral of this platform at start-up, FMSPC[:platform|"
                 "processor]; repeatable (failures are warnings)");
  app.add_option("--collateral-refresh-interval", global.collateral_refresh_interval_seconds,
                 "Seconds after which cached TDX collateral is refreshed (retries and the "
                 "breaker cool-down never wait longer)")
      ->check(CLI::Range(1.0, 31536000.0))
      ->capture_default_str();
  app.add_option("--kds-url", global.kds_url,
                 "Fetch missing SEV-SNP VCEK certificates in the background from this AMD KDS "
                 "base URL (default https://kdsintf.amd.com when --kds-cache-dir is given)");
  app.add_option("--kds-cache-dir", global.kds_cache_dir,
                 "Cache directory of SEV-SNP VCEKs and CRLs (enables the KDS fetcher; default "
                 "with --kds-url: <collateral cache directory>/kds)");
  app.add_option("--kds-crls", global.kds_crls,
                 "Check SEV-SNP chains of these products (Milan, Genoa, Turin, comma-separated, "
                 "or all) against AMD's CRLs, fetched from KDS at start-up and refreshed in the "
                 "background; a chain without a current CRL is refused (needs --kds-url or "
                 "--kds-cache-dir)")
      ->delimiter(',');
  app.add_option("--kds-crl-refresh-interval", global.kds_crl_refresh_interval_seconds,
                 "Seconds after which the --kds-crls CRLs are fetched again (sooner when a CRL "
                 "has used 3/4 of its validity)")
      ->check(CLI::Range(1.0, 31536000.0))
      ->capture_default_str();
  app.add_flag("--log-debug", global.log_debug, "Log debug messages");
  app.add_flag("--log-json", global.log_json, "Log one JSON object per line");
  app.add_flag("--log-dcap-quote", global.log_dcap_quote,
               "Write every received non-none evidence to quotes/<type>-<unix-ns>");
  app.add_flag("--override-azure-outdated-tcb", global.override_azure_outdated_tcb,
               "Accept the known-outdated Azure TDX TCB (azure-tdx evidence only)")
      ->envname("OVERRIDE_AZURE_OUTDATED_TCB");
  app.add_option("--collateral", global.collateral_files,
                 "TDX collateral file (dcap-qvl JSON or flashbots YAML) for offline "
                 "verification; repeatable");
  app.add_option("--accept-tcb-status", global.accept_tcb_status,
                 "Accepted TDX TCB statuses, comma-separated (default UpToDate,"
                 "SWHardeningNeeded; any-but-revoked = flashbots behaviour)")
      ->delimiter(',');
  app.add_option("--insecure-trust-mock-tee", global.insecure_trust_mock_tee,
                 "INSECURE, tests and demos only: verify peers against the mock TEE roots in "
                 "this directory (made by `mock-tee init`) instead of the real ones");
  app.add_option("--admin-listen-addr", global.admin_listen,
                 "Address of the admin listener: /health, /attestation/ready, /metrics")
      ->envname("ATLS_ADMIN_LISTEN_ADDR");
  app.add_option("--audit-log", global.audit_log,
                 "Append every attestation and policy decision to this hash-chained JSON-lines "
                 "file (check it with `atls-proxy audit verify`)")
      ->envname("ATLS_AUDIT_LOG");
  app.add_option("--audit-fsync", global.audit_fsync,
                 "When audit records reach the disk: always (per record), interval (once a "
                 "second), never")
      ->check(CLI::IsMember({"always", "interval", "never"}))
      ->capture_default_str();
  app.add_option("--drain-timeout", global.drain_timeout_seconds,
                 "On SIGTERM: seconds in-flight requests may take before the process exits")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-attestation-age", global.max_attestation_age_seconds,
                 "proxy-client: re-attest on a new channel before the current one's "
                 "attestation is this many seconds old (0 = never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--reload-on-change", global.reload_on_change,
               "Also reload (as on SIGHUP) when the config, measurements, collateral or "
               "certificate files change");
  app.add_option("--max-connections", global.max_connections,
                 "Per listener: connections open at once beyond this are closed right after "
                 "accept (counted in atls_connections_refused_total)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-timeout", global.idle_timeout_seconds,
                 "Seconds an idle HTTP/1.1 keep-alive connection (source or channel) stays open")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--handshake-timeout", global.handshake_timeout_seconds,
                 "Seconds allowed for the TLS handshake and for each attestation step")
      ->envname("ATLS_HANDSHAKE_TIMEOUT")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

}  // namespace

void add_client_tls_flags(CLI::App& command, ClientTlsFlags& tls, bool with_client_certificate) {
  command.add_option("--tls-ca-certificate", tls.ca_certificate,
                     "PEM file of extra trust anchors for the server certificate "
                     "(added to the system roots)");
  command.add_flag("--allow-self-signed", tls.allow_self_signed,
                   "Accept a self-signed server certificate without name or validity checks; "
                   "trust then rests on the attestation, which binds the certificate's key");
  if (with_client_certificate) {
    command
        .add_option("--tls-private-key-path", tls.private_key_path,
                    "PEM private key for client authentication")
        ->envname("TLS_PRIVATE_KEY_PATH");
    command
        .add_option("--tls-certificate-path", tls.certificate_path,
                    "PEM certificate chain for client authentication")
        ->envname("TLS_CERTIFICATE_PATH");
  }
}

void build_app(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  app.set_version_flag("-V,--version", std::string(ATLS_VERSION) + " (I/O backend: " +
                                           std::string(io_backend_name()) + ")");
  app.require_subcommand(1);
  app.fallthrough();

  add_global_options(app, global);
  // --config FILE (YAML, cli/config_file.h): flags > environment > file.
  app.config_formatter(std::make_shared<YamlConfig>(&app));
  app.set_config("--config", "", "YAML configuration file (docs/configuration.md)")
      ->envname("ATLS_CONFIG");

  add_server_command(app, global, action);
  add_client_command(app, global, action);
  add_get_tls_cert_command(app, global, action);
  add_attested_get_command(app, global, action);
  add_file_server_command(app, global, action);
  add_verify_command(app, global, action);
  add_mock_tee_command(app, global, action);
  add_collateral_command(app, global, action);
  add_audit_command(app, global, action);
  add_config_command(app, global, action);
  add_pg_server_command(app, global, action);
  add_pg_client_command(app, global, action);
  add_token_service_command(app, global, action);
  add_get_token_command(app, global, action);
}

OptionValues option_values(const CLI::App& app) {
  OptionValues values;
  const auto collect = [&values](const CLI::App& from, const std::string& prefix) {
    for (const CLI::Option* option : from.get_options()) {
      if (!option->empty()) {
        values[prefix + option->get_name()] = option->results();
      }
    }
  };
  collect(app, "");
  for (const CLI::App* subcommand : app.get_subcommands()) {
    collect(*subcommand, subcommand->get_name() + " ");
  }
  return values;
}

namespace {

// Records how the process was configured, for reloads (GlobalOptions::launch).
void record_launch(const CLI::App& app, std::vector<std::string> arguments, GlobalOptions& global) {
  global.launch.arguments = std::move(arguments);
  if (const CLI::Option* config = app.get_config_ptr(); config != nullptr && !config->empty()) {
    global.launch.config_path = config->as<std::string>();
  }
  global.launch.values = option_values(app);
}

// Commands that only read and write local files (mock PKIs, the audit log, a configuration
// file) run without the network I/O backend; every other one may open a socket (`verify` and
// `collateral` fetch collateral).
bool uses_network_io(const CLI::App& app) {
  for (const CLI::App* command : app.get_subcommands()) {
    const std::string& name = command->get_name();
    if (name == "mock-tee" || name == "audit" || name == "config") {
      return false;
    }
  }
  return true;
}

}  // namespace

Outcome<GlobalOptions> parse_command_line(const std::vector<std::string>& arguments) {
  CLI::App app{"atls-proxy", "atls-proxy"};
  GlobalOptions parsed;
  std::function<int()> unused_action;
  build_app(app, parsed, unused_action);
  try {
    app.parse(std::vector<std::string>(arguments));
  } catch (const CLI::ParseError& e) {
    return Failure{make_error_code(Errc::ConfigInvalid), e.what()};
  }
  record_launch(app, arguments, parsed);
  return parsed;
}

int run(int argc, char** argv) {
  CLI::App app{"atls-proxy: attested TLS proxy (flashbots-ratls/1 compatible)", "atls-proxy"};
  GlobalOptions global;
  std::function<int()> action;
  build_app(app, global, action);

  // `atls-proxy --config proxy.yaml` without a subcommand: the file's `mode` names it.
  std::vector<std::string> args(argv + 1, argv + argc);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(argc); ++i) {
    const std::string arg = argv[i];
    std::string path;
    if (arg == "--config" && i + 1 < static_cast<std::size_t>(argc)) {
      path = argv[i + 1];
    } else if (arg.rfind("--config=", 0) == 0) {
      path = arg.substr(9);
    }
    if (path.empty()) {
      continue;
    }
    bool has_subcommand = false;
    for (int j = 1; j < argc; ++j) {
      for (const auto* sub :
           std::as_const(app).get_subcommands(std::function<bool(const CLI::App*)>{})) {
        has_subcommand = has_subcommand || sub->get_name() == argv[j];
      }
    }
    if (!has_subcommand) {
      if (const auto mode = config_mode(path)) {
        args.insert(args.begin(), *mode);
      }
    }
    break;
  }

  const std::vector<std::string> arguments = args;
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  record_launch(app, arguments, global);
  init_logging(LogOptions{global.log_debug, global.log_json});
  if (uses_network_io(app)) {
    if (auto problem = io_backend_problem()) {
      spdlog::critical(
          "{}",
          Failure{make_error_code(Errc::IoBackendUnavailable), std::move(*problem)}.describe());
      return kExitInternal;
    }
  }
  try {
    return action ? action() : kExitUsage;
  } catch (const std::exception& e) {
    spdlog::critical("unexpected error: {}", e.what());
    return kExitInternal;
  }
}

}  // namespace atls::cli
