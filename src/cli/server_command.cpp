// `server` (interop spec §8.3): the proxy-server. Accepts attested channels and forwards their
// HTTP requests to the target.
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/reload.h"
#include "net/address.h"
#include "proxy/http/attested_server.h"
#include "proxy/http/forward_to_target.h"
#include "proxy/http/plain_server.h"
#include "ratls/alpn.h"

#ifndef ATLS_VERSION
#define ATLS_VERSION "unknown"
#endif

namespace atls::cli {
namespace {

struct ServerOptions {
  std::string target;
  std::string listen = "0.0.0.0:0";
  std::string attestation_type = "auto";
  ServerTlsFlags tls;
  std::optional<std::string> dev_dummy_dcap;
  std::optional<std::string> mock_tee;
  std::optional<std::string> listen_healthcheck;
  std::size_t io_threads = 0;
  std::vector<std::string> inner_alpn{"h2", "http/1.1"};
};

int run_server(const GlobalOptions& global, const ServerOptions& options) {
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
    return kExitUsage;
  }
  auto target = net::parse_host_port(options.target, 80);
  if (!target) {
    spdlog::error("target: {}", target.error().describe());
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
  // §1.2: the inner list is offered as "flashbots-ratls/1+<inner>" in this (preference) order.
  auto tls = make_server_tls(options.tls, *listen, ratls::ratls_alpn_list(options.inner_alpn));
  if (!tls) {
    spdlog::error("{}", tls.error().describe());
    return kExitUsage;
  }

  Runtime runtime(options.io_threads);
  auto operations = start_operations(global, runtime, *attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }
  std::vector<std::unique_ptr<proxy::OriginPool>> pools;
  for (std::size_t i = 0; i < runtime.io_thread_count(); ++i) {
    proxy::OriginOptions origin;
    origin.target = *target;
    pools.push_back(std::make_unique<proxy::OriginPool>(std::move(origin)));
  }
  auto forwarder = std::make_shared<proxy::TargetForwarder>(std::move(pools), options.target);
  forwarder->set_response_observer([metrics = (*operations)->metrics](int status) {
    metrics->backend_requests.with({ops::status_class(status)}).inc();
  });

  proxy::AttestedServerOptions server_options;
  server_options.listen = *listen;
  server_options.tls = *tls;
  server_options.channel = make_channel_config(
      *attester, *appraiser, runtime.attestation_executor(), global, (*operations)->recorder);
  server_options.channel.appraiser_slot = (*operations)->appraisers;
  server_options.max_connections = global.max_connections;
  server_options.on_connection_refused = count_refused_connections(**operations, "attested");
  server_options.h1.idle_timeout = global.idle_timeout();
  proxy::AttestedServer server(runtime, server_options,
                               [forwarder](const proxy::ChannelContext& context) {
                                 return forwarder->handler_for(context);
                               });
  *(*operations)->on_policy_reloaded = recheck_channels_on_reload(server);
  *(*operations)->tls_reloader = server_tls_reloader(
      global, *listen, ratls::ratls_alpn_list(options.inner_alpn),
      [&server](tls::SharedSslContext context) { server.replace_tls_context(std::move(context)); });
  auto bound = server.start();
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
  reload_on_sighup(runtime, global, **operations);
  stop_on_signals(
      runtime,
      [&server, &health, &operations] {
        server.drain();
        if (health) {
          health->close();
        }
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&server] { return server.open_channels() == 0; });
  // Logged once signals are handled: whoever waits for this line may stop us right away.
  spdlog::info("proxy-server listening on {}:{} (attesting as {}), forwarding to {}",
               bound->address().to_string(), bound->port(), attest::to_string((*attester)->type()),
               target->to_string());
  runtime.run();
  return kExitOk;
}

}  // namespace

void add_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<ServerOptions>();
  auto* command = app.add_subcommand(
      "server", "Accept attested channels and forward their HTTP requests to a target");
  command
      ->add_option("target_addr", options->target,
                   "Target HTTP service host:port (also the Host header sent to it)")
      ->required();
  command->add_option("-l,--listen-addr", options->listen, "Address of the attested listener")
      ->envname("LISTEN_ADDR")
      ->capture_default_str();
  command
      ->add_option("--server-attestation-type", options->attestation_type,
                   "Local attestation type: auto, none, dcap-tdx, gcp-tdx, qemu-tdx, "
                   "azure-tdx, sev-snp, gcp-snp")
      ->envname("SERVER_ATTESTATION_TYPE")
      ->capture_default_str();
  command
      ->add_option("--tls-private-key-path", options->tls.private_key_path,
                   "PEM private key (PKCS#8, PKCS#1 or SEC1); without key and certificate "
                   "an ephemeral self-signed certificate is used")
      ->envname("TLS_PRIVATE_KEY_PATH");
  command
      ->add_option("--tls-certificate-path", options->tls.certificate_path,
                   "PEM certificate chain, leaf first")
      ->envname("TLS_CERTIFICATE_PATH");
  command->add_flag("--client-auth", options->tls.client_auth,
                    "Require a client certificate (verified against the system roots and "
                    "--client-ca-certificate)");
  command->add_option("--client-ca-certificate", options->tls.client_ca_certificate,
                      "PEM file of extra trust anchors for client certificates");
  command->add_option("--dev-dummy-dcap", options->dev_dummy_dcap,
                      "Development: obtain evidence from an attestation provider service at "
                      "this private/loopback URL");
  command->add_option("--insecure-mock-tee", options->mock_tee,
                      "INSECURE, tests and demos only: attest with mock TEE evidence from this "
                      "directory (made by `mock-tee init`)");
  command->add_option("--listen-addr-healthcheck", options->listen_healthcheck,
                      "Address of a plain-HTTP health check endpoint");
  command
      ->add_option("--inner-alpn", options->inner_alpn,
                   "HTTP versions offered inside the channel, in preference order")
      ->delimiter(',')
      ->check(CLI::IsMember({"h2", "http/1.1"}))
      ->capture_default_str();
  command->add_option("--io-threads", options->io_threads, "I/O threads (default: one per CPU)");
  command->callback([&global, &action, options] {
    global.command_tls.server = options->tls;
    action = [&global, options] { return run_server(global, *options); };
  });
}

}  // namespace atls::cli
