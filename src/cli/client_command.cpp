// `client` (interop spec §8.2): the proxy-client. A local plain-HTTP listener whose requests
// travel over the attested channel to the proxy-server.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "cli/commands.h"
#include "cli/reload.h"
#include "net/address.h"
#include "proxy/http/client_proxy.h"
#include "proxy/http/plain_server.h"
#include "ratls/alpn.h"

#ifndef ATLS_VERSION
#define ATLS_VERSION "unknown"
#endif

namespace atls::cli {
namespace {

namespace asio = boost::asio;

struct ClientOptions {
  std::string server;
  std::string listen = "0.0.0.0:0";
  std::string attestation_type = "auto";
  ClientTlsFlags tls;
  std::optional<std::string> dev_dummy_dcap;
  std::optional<std::string> mock_tee;
  std::optional<std::string> listen_healthcheck;
  double request_wait_seconds = 10.0;
  std::size_t max_h1_channels = 8;
};

int run_client(const GlobalOptions& global, const ClientOptions& options) {
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
    return kExitUsage;
  }
  // §8.2: a leading https:// is stripped; the port defaults to 443.
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
  auto tls = make_client_tls(options.tls, ratls::ratls_alpn_list(ratls::with_http_protocols({})));
  if (!tls) {
    spdlog::error("{}", tls.error().describe());
    return kExitUsage;
  }

  // One I/O thread: the single attested channel is one TLS stream, which is serial anyway;
  // keeping the source connections on the same thread avoids cross-thread hand-offs.
  Runtime runtime(1);
  auto operations = start_operations(global, runtime, *attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }
  proxy::ClientProxyOptions proxy_options;
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
  proxy_options.pool.max_attestation_age = std::chrono::milliseconds(
      static_cast<long long>(global.max_attestation_age_seconds * 1000.0));
  proxy_options.pool.acquire_timeout =
      std::chrono::milliseconds(static_cast<long long>(options.request_wait_seconds * 1000));
  proxy_options.pool.max_h1_channels = options.max_h1_channels;
  proxy_options.max_connections = global.max_connections;
  proxy_options.on_connection_refused = count_refused_connections(**operations, "local");
  proxy_options.h1.idle_timeout = global.idle_timeout();
  proxy::ClientProxy proxy(runtime.main_io(), proxy_options);
  *(*operations)->on_policy_reloaded =
      recheck_channels_on_reload(proxy.channels(), server->to_string());
  *(*operations)->tls_reloader =
      client_tls_reloader(global, ratls::ratls_alpn_list(ratls::with_http_protocols({})),
                          [&proxy](tls::SharedSslContext context) {
                            proxy.channels().replace_tls_context(std::move(context));
                          });

  auto bound = proxy.listen();
  if (!bound) {
    spdlog::error("{}", bound.error().describe());
    return kExitUsage;
  }
  std::unique_ptr<proxy::PlainHttpServer> health;
  if (options.listen_healthcheck) {
    auto health_listen = parse_listen(*options.listen_healthcheck, "--listen-addr-healthcheck");
    if (!health_listen) {
      spdlog::error("{}", health_listen.error().describe());
      return kExitUsage;
    }
    health = std::make_unique<proxy::PlainHttpServer>(runtime.main_io(),
                                                      proxy::health_check_handler(ATLS_VERSION));
    auto health_bound = health->listen(*health_listen);
    if (!health_bound) {
      spdlog::error("{}", health_bound.error().describe());
      return kExitUsage;
    }
    spdlog::info("health check listening on {}:{}", health_bound->address().to_string(),
                 health_bound->port());
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
  stop_on_signals(
      runtime,
      [&proxy, &health, &operations] {
        proxy.shutdown();
        if (health) {
          health->close();
        }
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&proxy] { return proxy.drained(); });
  // Logged once signals are handled: whoever waits for this line may stop us right away.
  spdlog::info("proxy-client listening on {}:{}, proxy-server {}", bound->address().to_string(),
               bound->port(), server->to_string());
  runtime.run();
  return exit_code;
}

}  // namespace

void add_client_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<ClientOptions>();
  auto* command = app.add_subcommand(
      "client", "Forward local HTTP requests over an attested channel to a proxy-server");
  command
      ->add_option("target_addr", options->server,
                   "Proxy-server host[:port] (port 443 default; https:// is ignored)")
      ->required();
  command->add_option("-l,--listen-addr", options->listen, "Address of the local HTTP listener")
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
  command->add_option("--listen-addr-healthcheck", options->listen_healthcheck,
                      "Address of a plain-HTTP health check endpoint");
  command
      ->add_option("--request-wait", options->request_wait_seconds,
                   "Seconds a request waits for an attested channel before failing with 502")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--max-http1-channels", options->max_h1_channels,
                   "Channels opened at most when the server speaks HTTP/1.1 inside the "
                   "channel (one request at a time on each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command->callback([&global, &action, options] {
    global.command_tls.client = options->tls;
    action = [&global, options] { return run_client(global, *options); };
  });
}

}  // namespace atls::cli
