// `pg-server` (docs/cli.md, docs/database.md): the proxy-server in database mode. Accepts attested
// channels whose streams are database tunnels, and optionally pgwire clients directly over TLS
// (direct mode), and connects each one to the database backend.
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/reload.h"
#include "net/address.h"
#include "ops/audit_log.h"
#include "proxy/http/attested_server.h"
#include "proxy/pg/backend.h"
#include "proxy/pg/channel_handler.h"
#include "proxy/pg/direct_listener.h"
#include "proxy/pg/frontend.h"
#include "ratls/alpn.h"
#include "tls/certificate_builder.h"
#include "tls/errors.h"

namespace atls::cli {
namespace {

struct PgServerOptions {
  std::string backend;
  std::string listen = "0.0.0.0:0";
  std::optional<std::string> direct_listen;
  std::string attestation_type = "auto";
  ServerTlsFlags tls;
  std::optional<std::string> dev_dummy_dcap;
  std::optional<std::string> mock_tee;
  std::size_t io_threads = 0;
  std::string backend_sslmode = "verify-full";
  std::string backend_sslnegotiation = "postgres";
  std::optional<std::string> backend_ca;
  std::optional<std::string> backend_server_name;
  std::optional<std::string> backend_cert;
  std::optional<std::string> backend_key;
  double backend_connect_timeout = 10.0;
  std::optional<std::string> hba_file;
  std::vector<std::string> allowlist;
  double startup_timeout = 30.0;
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

Outcome<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure{make_error_code(tls::Errc::FileUnreadable), path};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct PgServerContexts {
  tls::SharedSslContext channel;  ///< attested listener: ratls ALPN, optional client auth
  tls::SharedSslContext direct;   ///< direct pgwire listener (when configured): ALPN postgresql
};

/// Both listeners' contexts from ONE set of credentials: the certificate that get-tls-cert
/// prints (after verifying the attestation) is the one direct-mode clients then pin.
Outcome<PgServerContexts> make_contexts(const PgServerOptions& options,
                                        const tls::Credentials& credentials, bool with_direct) {
  tls::ServerContextOptions channel_tls_options;
  channel_tls_options.credentials = &credentials;
  // Only HTTP/2 inside the channel: database tunnels are CONNECT streams (RFC 9113 §8.5).
  const std::vector<std::string> inner{"h2"};
  channel_tls_options.alpn_preference = ratls::ratls_alpn_list(inner);
  channel_tls_options.require_client_certificate = options.tls.client_auth;
  if (options.tls.client_ca_certificate) {
    auto anchors = tls::load_certificates(*options.tls.client_ca_certificate);
    if (!anchors) {
      return anchors.error();
    }
    channel_tls_options.client_trust_anchors = std::move(*anchors);
  }
  PgServerContexts contexts;
  auto channel = tls::make_server_context(channel_tls_options);
  if (!channel) {
    return channel.error();
  }
  contexts.channel = std::move(*channel);
  if (with_direct) {
    tls::ServerContextOptions direct_tls_options;
    direct_tls_options.credentials = &credentials;
    direct_tls_options.alpn_preference = {std::string(proxy::pg::kPostgresAlpn)};
    auto direct = tls::make_server_context(direct_tls_options);
    if (!direct) {
      return direct.error();
    }
    contexts.direct = std::move(*direct);
  }
  return contexts;
}

int run_pg_server(const GlobalOptions& global, const PgServerOptions& options) {
  auto listen = parse_listen(options.listen, "--listen-addr");
  if (!listen) {
    spdlog::error("{}", listen.error().describe());
    return kExitUsage;
  }
  std::optional<boost::asio::ip::tcp::endpoint> direct_listen;
  if (options.direct_listen) {
    auto parsed = parse_listen(*options.direct_listen, "--direct-listen-addr");
    if (!parsed) {
      spdlog::error("{}", parsed.error().describe());
      return kExitUsage;
    }
    direct_listen = *parsed;
  }
  auto backend_address = net::parse_host_port(options.backend, 26257);
  if (!backend_address) {
    spdlog::error("backend: {}", backend_address.error().describe());
    return kExitUsage;
  }
  proxy::pg::BackendOptions backend_options;
  backend_options.address = *backend_address;
  backend_options.ssl_mode = options.backend_sslmode == "disable"
                                 ? proxy::pg::BackendSslMode::Disable
                                 : proxy::pg::BackendSslMode::VerifyFull;
  backend_options.negotiation = options.backend_sslnegotiation == "direct"
                                    ? proxy::pg::BackendNegotiation::Direct
                                    : proxy::pg::BackendNegotiation::Postgres;
  backend_options.ca_file = options.backend_ca.value_or("");
  backend_options.server_name = options.backend_server_name.value_or("");
  backend_options.certificate_file = options.backend_cert;
  backend_options.key_file = options.backend_key;
  backend_options.connect_timeout = to_ms(options.backend_connect_timeout);
  auto backend = proxy::pg::BackendConnector::create(std::move(backend_options));
  if (!backend) {
    spdlog::error("backend: {}", backend.error().describe());
    return kExitUsage;
  }

  auto config = std::make_shared<proxy::pg::PgServerConfig>();
  config->backend = *backend;
  config->cancels = std::make_shared<proxy::pg::CancelMap>();
  config->startup_timeout = to_ms(options.startup_timeout);
  if (options.hba_file) {
    auto text = read_text_file(*options.hba_file);
    if (!text) {
      spdlog::error("--hba-file: {}", text.error().describe());
      return kExitUsage;
    }
    auto rules = proxy::pg::HbaRules::parse(*text);
    if (!rules) {
      spdlog::error("--hba-file {}: {}", *options.hba_file, rules.error().describe());
      return kExitUsage;
    }
    spdlog::info("host-based rules: {} records from {}", rules->size(), *options.hba_file);
    config->hba = std::make_shared<const proxy::pg::HbaRules>(std::move(*rules));
  }
  if (!options.allowlist.empty()) {
    auto list = proxy::pg::IpAllowlist::parse(options.allowlist);
    if (!list) {
      spdlog::error("--ip-allowlist: {}", list.error().describe());
      return kExitUsage;
    }
    config->allowlist = std::make_shared<const proxy::pg::IpAllowlist>(std::move(*list));
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
  // One set of credentials for both listeners: the certificate that get-tls-cert prints (after
  // verifying the attestation) is the one direct-mode clients then pin.
  if (options.tls.private_key_path.has_value() != options.tls.certificate_path.has_value()) {
    spdlog::error("--tls-private-key-path and --tls-certificate-path must be given together");
    return kExitUsage;
  }
  tls::Credentials credentials;
  if (options.tls.private_key_path) {
    auto loaded =
        tls::load_credentials(*options.tls.certificate_path, *options.tls.private_key_path);
    if (!loaded) {
      spdlog::error("{}", loaded.error().describe());
      return kExitUsage;
    }
    credentials = std::move(*loaded);
  } else {
    auto generated = tls::make_self_signed_credentials(listen->address().to_string(),
                                                       std::chrono::system_clock::now());
    if (!generated) {
      spdlog::error("{}", generated.error().describe());
      return kExitUsage;
    }
    credentials = std::move(*generated);
    spdlog::info("no TLS certificate given: using an ephemeral self-signed certificate for {}",
                 listen->address().to_string());
  }
  auto contexts = make_contexts(options, credentials, direct_listen.has_value());
  if (!contexts) {
    spdlog::error("{}", contexts.error().describe());
    return kExitUsage;
  }

  Runtime runtime(options.io_threads);
  auto operations = start_operations(global, runtime, *attester, *appraiser, *sources);
  if (!operations) {
    spdlog::error("{}", operations.error().describe());
    return kExitUsage;
  }
  // Every refused connection or cancel is counted and audited once (report_rejection also
  // logs it). The reason label is a pg.* error id: a bounded set.
  config->on_reject = [metrics = (*operations)->metrics,
                       audit_log = (*operations)->audit](const proxy::pg::Rejection& rejection) {
    metrics->pg_rejections.with({error_id(rejection.reason)}).inc();
    if (!audit_log) {
      return;
    }
    nlohmann::json record{
        {"event", "pg_rejected"},         {"reason", error_id(rejection.reason)},
        {"client", rejection.client},     {"via", rejection.via},
        {"user", rejection.user},         {"database", rejection.database},
        {"hba_line", rejection.hba_line},
    };
    audit_log->append(std::move(record));
  };
  proxy::AttestedServerOptions server_options;
  server_options.listen = *listen;
  server_options.tls = contexts->channel;
  server_options.channel = make_channel_config(
      *attester, *appraiser, runtime.attestation_executor(), global, (*operations)->recorder);
  server_options.channel.appraiser_slot = (*operations)->appraisers;
  server_options.max_connections = global.max_connections;
  server_options.on_connection_refused = count_refused_connections(**operations, "attested");
  proxy::AttestedServer server(runtime, server_options,
                               proxy::pg::make_channel_handler_factory(config));
  *(*operations)->on_policy_reloaded = recheck_channels_on_reload(server);
  auto bound = server.start();
  if (!bound) {
    spdlog::error("{}", bound.error().describe());
    return kExitUsage;
  }

  std::unique_ptr<proxy::pg::DirectListener> direct;
  if (direct_listen) {
    proxy::pg::DirectListenerOptions direct_options;
    direct_options.listen = *direct_listen;
    direct_options.tls = contexts->direct;
    // The plaintext negotiation and the TLS handshake count against the start-up timeout too.
    direct_options.handshake_timeout = to_ms(options.startup_timeout);
    direct_options.max_connections = global.max_connections;
    direct_options.on_connection_refused = count_refused_connections(**operations, "direct");
    direct = std::make_unique<proxy::pg::DirectListener>(runtime, direct_options, config);
    auto direct_bound = direct->start();
    if (!direct_bound) {
      spdlog::error("{}", direct_bound.error().describe());
      return kExitUsage;
    }
    spdlog::info("pg-direct listening on {}:{} (pgwire over TLS with this server's certificate)",
                 direct_bound->address().to_string(), direct_bound->port());
  }
  if (options.tls.certificate_path) {
    // A reload reads the certificate and key once for both listeners, as at start-up, from the
    // reloaded file names (a changed config file may name new ones).
    *(*operations)->tls_reloader =
        [&options, &server, &direct](const GlobalOptions& next) -> Outcome<std::function<void()>> {
      if (!next.command_tls.server || !next.command_tls.server->certificate_path ||
          !next.command_tls.server->private_key_path) {
        return Failure{make_error_code(tls::Errc::NoCertificate),
                       "--tls-certificate-path and --tls-private-key-path are required"};
      }
      PgServerOptions reloaded = options;
      reloaded.tls = *next.command_tls.server;
      auto loaded =
          tls::load_credentials(*reloaded.tls.certificate_path, *reloaded.tls.private_key_path);
      if (!loaded) {
        return loaded.error();
      }
      auto rebuilt = make_contexts(reloaded, *loaded, direct != nullptr);
      if (!rebuilt) {
        return rebuilt.error();
      }
      return std::function<void()>([&server, &direct, next_contexts = *rebuilt] {
        server.replace_tls_context(next_contexts.channel);
        if (direct) {
          direct->replace_tls_context(next_contexts.direct);
        }
      });
    };
  }
  reload_on_sighup(runtime, global, **operations);
  stop_on_signals(
      runtime,
      [&server, &direct, &operations] {
        server.drain();
        if (direct) {
          direct->stop_accepting();
        }
        (*operations)->readiness->set("draining", false, "shutting down");
      },
      global.drain_timeout(), [&server] { return server.open_channels() == 0; });
  // Logged once signals are handled: whoever waits for this line may stop us right away.
  spdlog::info("pg-server listening on {}:{} (attesting as {}), database backend {} ({}{})",
               bound->address().to_string(), bound->port(), attest::to_string((*attester)->type()),
               backend_address->to_string(), options.backend_sslmode,
               options.backend_sslmode == "disable"
                   ? ""
                   : ", negotiation " + options.backend_sslnegotiation);

  runtime.run();
  return kExitOk;
}

}  // namespace

void add_pg_server_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<PgServerOptions>();
  auto* command = app.add_subcommand(
      "pg-server",
      "Database mode: accept attested channels (and optionally direct TLS clients) and connect "
      "their pgwire sessions to a PostgreSQL/CockroachDB backend");
  command
      ->add_option("backend_addr", options->backend,
                   "Database backend host[:port] (port 26257 by default)")
      ->required();
  command->add_option("-l,--listen-addr", options->listen, "Address of the attested listener")
      ->envname("LISTEN_ADDR")
      ->capture_default_str();
  command->add_option("--direct-listen-addr", options->direct_listen,
                      "Direct mode: also accept pgwire clients over TLS (SSLRequest or "
                      "PostgreSQL 17 direct TLS) on this address");
  command
      ->add_option("--server-attestation-type", options->attestation_type,
                   "Local attestation type: auto, none, dcap-tdx, gcp-tdx, qemu-tdx, "
                   "azure-tdx, sev-snp, gcp-snp")
      ->envname("SERVER_ATTESTATION_TYPE")
      ->capture_default_str();
  command
      ->add_option("--tls-private-key-path", options->tls.private_key_path,
                   "PEM private key; without key and certificate an ephemeral self-signed "
                   "certificate is used (for both listeners)")
      ->envname("TLS_PRIVATE_KEY_PATH");
  command
      ->add_option("--tls-certificate-path", options->tls.certificate_path,
                   "PEM certificate chain, leaf first (both listeners)")
      ->envname("TLS_CERTIFICATE_PATH");
  command->add_flag("--client-auth", options->tls.client_auth,
                    "Require a client certificate on the attested listener");
  command->add_option("--client-ca-certificate", options->tls.client_ca_certificate,
                      "PEM file of extra trust anchors for client certificates");
  command->add_option("--dev-dummy-dcap", options->dev_dummy_dcap,
                      "Development: obtain evidence from an attestation provider service at "
                      "this private/loopback URL");
  command->add_option("--insecure-mock-tee", options->mock_tee,
                      "INSECURE, tests and demos only: attest with mock TEE evidence from this "
                      "directory (made by `mock-tee init`)");
  command->add_option("--io-threads", options->io_threads, "I/O threads (default: one per CPU)");
  command
      ->add_option("--backend-sslmode", options->backend_sslmode,
                   "TLS to the backend: verify-full (chain against --backend-ca only, and the "
                   "name) or disable (plaintext; only for a backend on the same host)")
      ->check(CLI::IsMember({"verify-full", "disable"}))
      ->capture_default_str();
  command
      ->add_option("--backend-sslnegotiation", options->backend_sslnegotiation,
                   "postgres: SSLRequest then TLS; direct: TLS at once with ALPN postgresql "
                   "(PostgreSQL 17+)")
      ->check(CLI::IsMember({"postgres", "direct"}))
      ->capture_default_str();
  command->add_option("--backend-ca", options->backend_ca,
                      "PEM CA certificate(s) the backend's certificate must chain to "
                      "(required with verify-full)");
  command->add_option("--backend-server-name", options->backend_server_name,
                      "Name the backend certificate must carry (default: the backend host)");
  command->add_option("--backend-cert", options->backend_cert,
                      "PEM client certificate for certificate authentication to the backend");
  command->add_option("--backend-key", options->backend_key, "PEM private key of --backend-cert");
  command
      ->add_option("--backend-connect-timeout", options->backend_connect_timeout,
                   "Seconds allowed to connect to the backend (TCP and TLS)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--hba-file", options->hba_file,
                      "Host-based rules (pg_hba.conf-like, docs/database.md); without it every "
                      "client that reaches the proxy-server may try to log in");
  command
      ->add_option("--ip-allowlist", options->allowlist,
                   "Client addresses allowed (CIDR or address; repeatable or "
                   "comma-separated); without it every address is allowed")
      ->delimiter(',');
  command
      ->add_option("--startup-timeout", options->startup_timeout,
                   "Seconds a client may take to send its start-up packet")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->callback([&global, &action, options] {
    global.command_tls.server = options->tls;
    action = [&global, options] { return run_pg_server(global, *options); };
  });
}

}  // namespace atls::cli
