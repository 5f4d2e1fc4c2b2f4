#pragma once
// Pieces shared by the subcommands: global options (interop spec §8.1), exit codes, and
// construction of the appraiser and TLS contexts from flags.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attest/attester.h"
#include "attest/tdx/collateral_source.h"
#include "cli/verification_sources.h"
#include "core/error.h"
#include "core/runtime.h"
#include "ops/admin.h"
#include "ops/channel_recorder.h"
#include "proxy/http/attested_server.h"
#include "proxy/http/channel_pool.h"
#include "proxy/http/plain_server.h"
#include "ratls/appraisal.h"
#include "ratls/channel.h"
#include "tls/context.h"

namespace atls::cli {

/// Process exit codes (documented in docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,      ///< unexpected internal failure
  kExitUsage = 2,         ///< bad flags, unreadable or invalid files
  kExitConnection = 3,    ///< resolve/connect/TLS failures, timeouts, peer hang-ups
  kExitAttestation = 4,   ///< the peer's attestation was rejected (verification or policy)
  kExitHttpStatus = 5,    ///< attested-get: the server answered with a status >= 400
  kExitAuditInvalid = 6,  ///< audit verify: the chain is broken (tampering or damage)
};

/// Option values of a parsed command line as CLI11 holds them once flags, environment and
/// config file are merged, keyed "--name" for global options and "<subcommand> --name" for the
/// chosen subcommand's. A reload compares them to find what changed.
using OptionValues = std::map<std::string, std::vector<std::string>>;

/// Options of a proxy-client-like subcommand's TLS client (§1.3, §8.2).
struct ClientTlsFlags {
  std::optional<std::string> ca_certificate;
  std::optional<std::string> private_key_path;
  std::optional<std::string> certificate_path;
  bool allow_self_signed = false;
};

/// Options of a server-like subcommand's TLS server (§1.3, §8.3).
struct ServerTlsFlags {
  std::optional<std::string> private_key_path;
  std::optional<std::string> certificate_path;
  bool client_auth = false;
  /// Trust anchors for client certificates in addition to the system roots (flashbots can only
  /// use web-PKI roots, interop spec §12 quirk 10).
  std::optional<std::string> client_ca_certificate;
};

struct GlobalOptions {
  std::optional<std::string> measurements_file;
  std::optional<std::string> allowed_remote_attestation_type;
  std::optional<std::string> pccs_url;
  bool log_debug = false;
  bool log_json = false;
  bool log_dcap_quote = false;
  bool override_azure_outdated_tcb = false;
  double handshake_timeout_seconds = 30.0;
  /// TDX collateral files (dcap-qvl JSON or flashbots YAML) for offline verification.
  std::vector<std::string> collateral_files;
  /// TDX collateral service (with pccs_url; cli/verification_sources.h): cache directory,
  /// platforms fetched at start-up ("FMSPC[:platform|processor]"), refresh interval.
  std::optional<std::string> collateral_cache_dir;
  std::vector<std::string> collateral_prefetch;
  double collateral_refresh_interval_seconds = 86400.0;
  /// SEV-SNP VCEKs from AMD KDS: base URL (default https://kdsintf.amd.com) and cache directory.
  std::optional<std::string> kds_url;
  std::optional<std::string> kds_cache_dir;
  /// AMD CRLs kept fresh from KDS and required for these products ("Milan", "Genoa", "Turin" or
  /// "all"; comma-separated on the command line), and their refresh interval.
  std::vector<std::string> kds_crls;
  double kds_crl_refresh_interval_seconds = 86400.0;
  /// Accepted TCB statuses (policy/tcb_status_policy.h); empty = defaults.
  std::vector<std::string> accept_tcb_status;
  /// INSECURE: verify peers against the mock TEE roots in this directory only.
  std::optional<std::string> insecure_trust_mock_tee;
  /// Admin listener (/health, /attestation/ready, /metrics).
  std::optional<std::string> admin_listen;
  /// Tamper-evident audit log file and its fsync policy.
  std::optional<std::string> audit_log;
  std::string audit_fsync = "always";
  /// SIGTERM: seconds in-flight work may take before the process exits anyway.
  double drain_timeout_seconds = 30.0;
  /// policy.max_attestation_age in seconds (proxy-client re-attests before); 0 = unlimited.
  double max_attestation_age_seconds = 0.0;
  /// Also reload (as on SIGHUP) when the config, measurements, collateral or certificate files
  /// change (inotify on their directories).
  bool reload_on_change = false;
  /// Per listener: concurrent connections beyond this are closed right after accept.
  std::size_t max_connections = 10000;
  /// HTTP/1.1 keep-alive connections (sources and channels) idle this long are closed.
  double idle_timeout_seconds = 60.0;

  /// The certificate options of the chosen subcommand, recorded by its callback so that a
  /// reload that re-reads the config file hands the new file names to Operations::tls_reloader.
  struct CommandTls {
    std::optional<ServerTlsFlags> server;  ///< server, pg-server
    std::optional<ClientTlsFlags> client;  ///< client, pg-client (the attested channel)
  } command_tls;

  /// How the process was configured, recorded by run() after parsing: a reload parses the same
  /// arguments again, re-reading the config file (cli/reload.h).
  struct Launch {
    std::vector<std::string> arguments;      ///< as handed to CLI11 (reversed order)
    std::optional<std::string> config_path;  ///< --config or ATLS_CONFIG
    OptionValues values;
  } launch;

  std::chrono::milliseconds step_timeout() const;
  std::chrono::milliseconds drain_timeout() const;
  std::chrono::milliseconds idle_timeout() const;
};

/// The verification sources of the process (cli/verification_sources.h), created once at
/// start-up and started: the TDX refresh thread runs and the --collateral-prefetch platforms
/// are fetched (bounded by the handshake timeout; failures are warnings). Usage errors carry
/// the detail.
Outcome<VerificationSourcesPtr> open_verification_sources(const GlobalOptions& global);

/// Policy + verifiers for the peer, from the global options, over `sources`. Usage errors carry
/// the detail.
Outcome<std::shared_ptr<const ratls::Appraiser>> make_appraiser(const GlobalOptions& global,
                                                                const VerificationSources& sources);

/// Client TLS context offering `alpn`. Loads and checks the referenced files.
Outcome<tls::SharedSslContext> make_client_tls(const ClientTlsFlags& flags,
                                               std::vector<std::string> alpn);

/// Server TLS context configured with `alpn` (server preference order). Without key and
/// certificate an ephemeral self-signed P-256 certificate for the listen address is made, as
/// flashbots does; giving only one of the two is a usage error.
Outcome<tls::SharedSslContext> make_server_tls(const ServerTlsFlags& flags,
                                               const boost::asio::ip::tcp::endpoint& listen,
                                               std::vector<std::string> alpn);

/// The local attester for `--server-attestation-type` / `--client-attestation-type`
/// (plus `--dev-dummy-dcap`).
Outcome<attest::AttesterPtr> make_local_attester(const std::string& type,
                                                 const std::optional<std::string>& dev_dummy_dcap,
                                                 const std::optional<std::string>& mock_tee = {});

/// Operations state shared by a proxy process: metrics, readiness, audit log, the channel
/// recorder and the admin listener (docs/operations.md).
struct Operations {
  std::shared_ptr<ops::Registry> registry;
  std::shared_ptr<ops::ProxyMetrics> metrics;
  std::shared_ptr<ops::Readiness> readiness;
  std::shared_ptr<ops::AuditLog> audit;
  std::shared_ptr<ops::ChannelRecorder> recorder;
  std::unique_ptr<proxy::PlainHttpServer> admin;
  /// The appraiser in force; SIGHUP replaces it (reload_policy_on_sighup).
  std::shared_ptr<ratls::AppraiserSlot> appraisers;
  /// Run on the main io_context after a successful reload, with the new appraiser: commands
  /// set it to re-check their open channels (close_channels_if / retire_channels_if).
  using ReloadHook = std::function<void(std::shared_ptr<const ratls::Appraiser>)>;
  std::shared_ptr<ReloadHook> on_policy_reloaded = std::make_shared<ReloadHook>();
  /// Certificate reload: re-reads the certificate and key files named by the reloaded options
  /// (GlobalOptions::command_tls; blocking, runs on the attestation pool) and returns the
  /// action that installs the new TLS contexts for new connections (run on the main
  /// io_context), or the failure that rejects the whole reload. Empty when the command has no
  /// certificate files (an ephemeral self-signed certificate is never replaced: its key is what
  /// the attestation binds).
  using TlsReloader = std::function<Outcome<std::function<void()>>(const GlobalOptions& next)>;
  std::shared_ptr<TlsReloader> tls_reloader = std::make_shared<TlsReloader>();
  /// Collateral service and certificate cache, shared by every appraiser (reloads included).
  VerificationSourcesPtr sources;
};

/// Opens the audit log and starts the admin listener (when configured) on `runtime`'s main
/// io_context, starts the readiness self-test of `attester` on the attestation pool, and
/// exports the state of `sources` in the metrics. Errors are usage/configuration errors.
Outcome<std::unique_ptr<Operations>> start_operations(
    const GlobalOptions& global, Runtime& runtime, const attest::AttesterPtr& attester,
    std::shared_ptr<const ratls::Appraiser> appraiser, VerificationSourcesPtr sources);

/// Reload hooks (Operations::on_policy_reloaded): close gracefully the channels whose peer the
/// new policy no longer accepts (Appraiser::still_accepts), logging why. `server` / `pool` must
/// outlive the runtime's main io_context run.
Operations::ReloadHook recheck_channels_on_reload(proxy::AttestedServer& server);
Operations::ReloadHook recheck_channels_on_reload(proxy::ChannelPool& pool,
                                                  std::string server_name);

/// Operations::tls_reloader for a server-like command: rebuilds the context with
/// make_server_tls(next.command_tls.server, listen, alpn) and hands it to `install`. Empty when
/// `global` (the start-up options) names no certificate files.
Operations::TlsReloader server_tls_reloader(const GlobalOptions& global,
                                            boost::asio::ip::tcp::endpoint listen,
                                            std::vector<std::string> alpn,
                                            std::function<void(tls::SharedSslContext)> install);
/// The same for a client-like command (client certificate, --tls-ca-certificate) from
/// next.command_tls.client. Empty when neither is given at start-up.
Operations::TlsReloader client_tls_reloader(const GlobalOptions& global,
                                            std::vector<std::string> alpn,
                                            std::function<void(tls::SharedSslContext)> install);

/// Counts a connection refused by --max-connections on `listener` ("attested", "local",
/// "direct") in atls_connections_refused_total.
std::function<void()> count_refused_connections(const Operations& operations, std::string listener);

/// Channel configuration from the parts every subcommand assembles.
ratls::ChannelConfig make_channel_config(attest::AttesterPtr attester,
                                         std::shared_ptr<const ratls::Appraiser> appraiser,
                                         boost::asio::any_io_executor attestation_executor,
                                         const GlobalOptions& global,
                                         std::shared_ptr<ratls::ChannelObserver> observer);

/// TDX collateral from files (dcap-qvl JSON or flashbots YAML), for offline verification.
Outcome<std::shared_ptr<attest::tdx::StaticCollateralSource>> load_collateral_files(
    const std::vector<std::string>& files);

/// Parses a listen address; errors name the flag.
Outcome<boost::asio::ip::tcp::endpoint> parse_listen(const std::string& text,
                                                     std::string_view flag);

/// Graceful stop on SIGINT/SIGTERM (on the main io_context): calls `on_stop` (stop accepting,
/// GOAWAY), then stops `runtime` once `drained()` says in-flight work is done or after
/// `drain_timeout`, whichever comes first. A second signal stops at once.
void stop_on_signals(Runtime& runtime, std::function<void()> on_stop,
                     std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(0),
                     std::function<bool()> drained = {});

/// Whether a failure means the peer's attestation was rejected (exit 4) rather than a
/// connection or TLS problem (exit 3).
bool is_attestation_rejection(const ErrorCode& ec);

/// Exit code for a failure that happened while connecting or during the exchange.
int exit_code_for_channel_failure(const Failure& failure);

}  // namespace atls::cli
