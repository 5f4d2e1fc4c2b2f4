// `attested-file-server` (interop spec §8.5): serves a directory over attested channels.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/reload.h"
#include "proxy/http/attested_server.h"
#include "proxy/http/file_server.h"
#include "ratls/alpn.h"

namespace atls::cli {
namespace {

struct FileServerOptions {
  std::string root;
  std::string listen = "0.0.0.0:0";
  std::string attestation_type = "none";  // §8.5: no auto detection here
  ServerTlsFlags tls;
  std::optional<std::string> dev_dummy_dcap;
};

int run_file_server(const GlobalOptions& global, const FileServerOptions& options) {
  if (!std::filesystem::is_directory(options.root)) {
    spdlog::error("{} is not a directory", options.root);
    return kExitUsage;
  }
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
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
  auto attester = make_local_attester(options.attestation_type, options.dev_dummy_dcap);
  if (!attester) {
    spdlog::error("{}", attester.error().describe());
    return kExitUsage;
  }
  auto tls =
      make_server_tls(options.tls, *listen, ratls::ratls_alpn_list(ratls::with_http_protocols({})));
  if (!tls) {
    spdlog::error("{}", tls.error().describe());
    return kExitUsage;
  }
  Runtime runtime;
  // The same operations as `server`: admin endpoints, audit log, reload and drain.
  auto operations = start_operations(global, runtime, *attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }
  proxy::AttestedServerOptions server_options;
  server_options.listen = *listen;
  server_options.tls = *tls;
  server_options.channel = make_channel_config(
      *attester, *appraiser, runtime.attestation_executor(), global, (*operations)->recorder);
  server_options.channel.appraiser_slot = (*operations)->appraisers;
  server_options.max_connections = global.max_connections;
  server_options.on_connection_refused = count_refused_connections(**operations, "attested");
  server_options.h1.idle_timeout = global.idle_timeout();
  const std::filesystem::path root = options.root;
  proxy::AttestedServer server(runtime, server_options, [root](const proxy::ChannelContext&) {
    return proxy::file_server_handler(root);
  });
  *(*operations)->on_policy_reloaded = recheck_channels_on_reload(server);
  *(*operations)->tls_reloader = server_tls_reloader(
      global, *listen, ratls::ratls_alpn_list(ratls::with_http_protocols({})),
      [&server](tls::SharedSslContext context) { server.replace_tls_context(std::move(context)); });
  auto bound = server.start();
  if (!bound) {
    spdlog::error("{}", bound.error().describe());
    return kExitUsage;
  }
  reload_on_sighup(runtime, global, **operations);
  stop_on_signals(
      runtime,
      [&server, &operations] {
        server.drain();
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&server] { return server.open_channels() == 0; });
  // Logged once signals are handled: whoever waits for this line may stop us right away.
  spdlog::info("attested-file-server listening on {}:{} serving {}", bound->address().to_string(),
               bound->port(), options.root);
  runtime.run();
  return kExitOk;
}

}  // namespace

void add_file_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<FileServerOptions>();
  auto* command =
      app.add_subcommand("attested-file-server", "Serve a directory over attested channels");
  command->add_option("path_to_serve", options->root, "Directory to serve")->required();
  command->add_option("-l,--listen-addr", options->listen, "Address of the attested listener")
      ->envname("LISTEN_ADDR")
      ->capture_default_str();
  command
      ->add_option("--server-attestation-type", options->attestation_type,
                   "Local attestation type (no auto detection here)")
      ->envname("SERVER_ATTESTATION_TYPE")
      ->capture_default_str();
  command->add_option("--tls-private-key-path", options->tls.private_key_path, "PEM private key")
      ->envname("TLS_PRIVATE_KEY_PATH")
      ->required();
  command
      ->add_option("--tls-certificate-path", options->tls.certificate_path,
                   "PEM certificate chain, leaf first")
      ->envname("TLS_CERTIFICATE_PATH")
      ->required();
  command->add_option("--dev-dummy-dcap", options->dev_dummy_dcap,
                      "Development: attestation provider service URL");
  command->callback([&global, &action, options] {
    global.command_tls.server = options->tls;
    action = [&global, options] { return run_file_server(global, *options); };
  });
}

}  // namespace atls::cli
