// `pg-client` (docs/cli.md, docs/database.md): the proxy-client in database mode. A local pgwire
// listener whose connections each become a CONNECT stream of the one attested channel.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "cli/commands.h"
#include "cli/reload.h"
#include "net/address.h"
#include "proxy/pg/client_proxy.h"
#include "ratls/alpn.h"

namespace atls::cli {
namespace {

namespace asio = boost::asio;

struct PgClientOptions {
  std::string server;
  std::string listen = "127.0.0.1:26257";
  std::string attestation_type = "auto";
  ClientTlsFlags tls;
  std::optional<std::string> dev_dummy_dcap;
  std::optional<std::string> mock_tee;
  std::optional<std::string> local_tls_cert;
  std::optional<std::string> local_tls_key;
  double request_wait_seconds = 10.0;
  double startup_timeout = 30.0;
};

int run_pg_client(const GlobalOptions& global, const PgClientOptions& options) {
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
    return kExitUsage;
  }
  std::string_view server_text = options.server;
  if (server_text.starts_with("https://")) {
    server_text.remove_prefix(8);
  }
  auto server = net::parse_host_port(server_text, 443);
  if (!server) {
    spdlog::error("proxy-server address: {}", server.error().describe());
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
  auto attester =
      make_local_attester(options.attestation_type, options.dev_dummy_dcap, options.mock_tee);
  if (!attester) {
    spdlog::error("{}", attester.error().describe());
    return kExitUsage;
  }
  // Only HTTP/2 inside the channel: each database connection is a CONNECT stream.
  const std::vector<std::string> inner{"h2"};
  auto tls = make_client_tls(options.tls, ratls::ratls_alpn_list(inner));
  if (!tls) {
    spdlog::error("{}", tls.error().describe());
    return kExitUsage;
  }
  tls::SharedSslContext local_tls;
  if (options.local_tls_cert.has_value() != options.local_tls_key.has_value()) {
    spdlog::error("--local-tls-cert and --local-tls-key must be given together");
    return kExitUsage;
  }
  if (options.local_tls_cert) {
    ServerTlsFlags flags;
    flags.certificate_path = options.local_tls_cert;
    flags.private_key_path = options.local_tls_key;
    auto made = make_server_tls(flags, *listen, {});
    if (!made) {
      spdlog::error("local TLS: {}", made.error().describe());
      return kExitUsage;
    }
    local_tls = *made;
  }
  if (!local_tls && !listen->address().is_loopback()) {
    spdlog::warn(
        "the local listener {} is not a loopback address and local TLS is off: "
        "database traffic to it travels in plaintext",
        listen->address().to_string());
  }

  Runtime runtime(1);
  auto operations = start_operations(global, runtime, *attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }
  proxy::pg::PgClientOptions proxy_options;
  proxy_options.listen = *listen;
  proxy_options.pool.server = *server;
  proxy_options.pool.tls = *tls;
  proxy_options.pool.channel = make_channel_config(
      *attester, *appraiser, runtime.attestation_executor(), global, (*operations)->recorder);
  proxy_options.pool.channel.appraiser_slot = (*operations)->appraisers;
  // With online sources, "the server's collateral is not cached yet" is retried while the
  // background fetch runs, instead of ending the start-up.
  proxy_options.pool.transient_rejection = [sources = *sources](const ErrorCode& code) {
    return sources->is_transient(code);
  };
  proxy_options.pool.acquire_timeout =
      std::chrono::milliseconds(static_cast<long long>(options.request_wait_seconds * 1000));
  proxy_options.local_tls = local_tls;
  proxy_options.startup_timeout =
      std::chrono::milliseconds(static_cast<long long>(options.startup_timeout * 1000));
  proxy_options.max_connections = global.max_connections;
  proxy_options.on_connection_refused = count_refused_connections(**operations, "local");
  proxy::pg::PgClientProxy proxy(runtime.main_io(), proxy_options);
  *(*operations)->on_policy_reloaded =
      recheck_channels_on_reload(proxy.channels(), server->to_string());
  *(*operations)->tls_reloader = client_tls_reloader(
      global, ratls::ratls_alpn_list(inner), [&proxy](tls::SharedSslContext context) {
        proxy.channels().replace_tls_context(std::move(context));
      });

  auto bound = proxy.listen();
  if (!bound) {
    spdlog::error("{}", bound.error().describe());
    return kExitUsage;
  }
  int exit_code = kExitOk;
  asio::co_spawn(
      runtime.main_io(), proxy.connect(), [&](std::exception_ptr error, Outcome<void> connected) {
        if (error || !connected) {
          const Failure failure = error ? Failure{make_error_code(boost::system::errc::io_error),
                                                  "unexpected exception"}
                                        : connected.error();
          spdlog::error("cannot establish the attested channel to {}: {}", server->to_string(),
                        failure.describe());
          exit_code = exit_code_for_channel_failure(failure);
          proxy.shutdown();
          runtime.stop();
        }
      });
  reload_on_sighup(runtime, global, **operations);
  // SIGTERM drains: no new local connections, open database sessions may finish within
  // --drain-timeout (docs/operations.md).
  stop_on_signals(
      runtime,
      [&proxy, &operations] {
        proxy.shutdown();
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&proxy] { return proxy.drained(); });
  // Logged once signals are handled: whoever waits for this line may stop us right away.
  spdlog::info("pg-client listening on {}:{} ({}), proxy-server {}", bound->address().to_string(),
               bound->port(), local_tls ? "local TLS" : "plaintext, SSLRequest answered N",
               server->to_string());

  runtime.run();
  return exit_code;
}

}  // namespace

void add_pg_client_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<PgClientOptions>();
  auto* command = app.add_subcommand(
      "pg-client",
      "Database mode: a local pgwire listener whose connections travel as streams of one "
      "attested channel to a pg-server");
  command
      ->add_option("target_addr", options->server,
                   "pg-server host[:port] (port 443 default; https:// is ignored)")
      ->required();
  command->add_option("-l,--listen-addr", options->listen, "Address of the local database listener")
      ->envname("LISTEN_ADDR")
      ->capture_default_str();
  command
      ->add_option("--client-attestation-type", options->attestation_type,
                   "Local attestation type: auto, none, dcap-tdx, gcp-tdx, qemu-tdx, "
                   "azure-tdx, sev-snp, gcp-snp")
      ->envname("CLIENT_ATTESTATION_TYPE")
      ->capture_default_str();
  add_client_tls_flags(*command, options->tls, /*with_client_certificate=*/true);
  command->add_option("--dev-dummy-dcap", options->dev_dummy_dcap,
                      "Development: obtain evidence from an attestation provider service at "
                      "this private/loopback URL");
  command->add_option("--insecure-mock-tee", options->mock_tee,
                      "INSECURE, tests and demos only: attest with mock TEE evidence from this "
                      "directory (made by `mock-tee init`)");
  command->add_option("--local-tls-cert", options->local_tls_cert,
                      "Answer SSLRequest from local clients with TLS using this PEM certificate "
                      "chain (clients then need channel_binding=disable, docs/database.md)");
  command->add_option("--local-tls-key", options->local_tls_key,
                      "PEM private key of --local-tls-cert");
  command
      ->add_option("--request-wait", options->request_wait_seconds,
                   "Seconds a new database connection waits for the attested channel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--startup-timeout", options->startup_timeout,
                   "Seconds a local client may take to send its start-up packet")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->callback([&global, &action, options] {
    global.command_tls.client = options->tls;
    action = [&global, options] { return run_pg_client(global, *options); };
  });
}

}  // namespace atls::cli
