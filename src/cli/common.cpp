#include "cli/common.h"

#include <spdlog/spdlog.h>

#include <boost/asio/error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/error.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "attest/errors.h"
#include "attest/local/local_attester.h"
#include "attest/mock/mock_tee.h"
#include "attest/snp/snp_verifier.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/tdx_verifier.h"
#include "cli/errors.h"
#include "net/address.h"
#include "net/errors.h"
#include "policy/loader.h"
#include "ratls/errors.h"
#include "ratls/provider_attester.h"
#include "tls/certificate_builder.h"
#include "tls/credentials.h"
#include "tls/errors.h"

#ifndef ATLS_VERSION
#define ATLS_VERSION "unknown"
#endif

namespace atls::cli {

std::chrono::milliseconds GlobalOptions::step_timeout() const {
  return std::chrono::milliseconds(static_cast<long long>(handshake_timeout_seconds * 1000.0));
}

std::chrono::milliseconds GlobalOptions::idle_timeout() const {
  return std::chrono::milliseconds(static_cast<long long>(idle_timeout_seconds * 1000.0));
}

Operations::ReloadHook recheck_channels_on_reload(proxy::AttestedServer& server) {
  return [&server](std::shared_ptr<const ratls::Appraiser> appraiser) {
    const std::size_t closed = server.close_channels_if([&appraiser](const ratls::ChannelInfo& c) {
      auto verdict = appraiser->still_accepts(c.peer);
      if (!verdict) {
        spdlog::warn(
            "policy reload: closing gracefully a channel whose client the new policy "
            "refuses: {}",
            verdict.error().describe());
      }
      return !verdict;
    });
    spdlog::info("policy reload: open channels re-checked, {} closed", closed);
  };
}

Operations::ReloadHook recheck_channels_on_reload(proxy::ChannelPool& pool,
                                                  std::string server_name) {
  return [&pool,
          server_name = std::move(server_name)](std::shared_ptr<const ratls::Appraiser> appraiser) {
    pool.retire_channels_if([appraiser, server_name](const ratls::PeerAttestation& peer) {
      auto verdict = appraiser->still_accepts(peer);
      if (!verdict) {
        spdlog::warn("policy reload: the new policy refuses {}: {}", server_name,
                     verdict.error().describe());
      }
      return !verdict;
    });
  };
}

namespace {

// The one shape of every TLS reloader: build the context from the reloaded options off the
// I/O threads, install it on the main io_context.
Operations::TlsReloader reinstall_with(
    std::function<Outcome<tls::SharedSslContext>(const GlobalOptions&)> build,
    std::function<void(tls::SharedSslContext)> install) {
  return [build = std::move(build), install = std::move(install)](
             const GlobalOptions& next) -> Outcome<std::function<void()>> {
    auto context = build(next);
    if (!context) {
      return context.error();
    }
    return std::function<void()>([install, context = *context] { install(context); });
  };
}

Failure missing_command_tls() {
  return Failure{make_error_code(Errc::ConfigInvalid),
                 "the reloaded options carry no TLS settings for this command"};
}

}  // namespace

Operations::TlsReloader server_tls_reloader(const GlobalOptions& global,
                                            boost::asio::ip::tcp::endpoint listen,
                                            std::vector<std::string> alpn,
                                            std::function<void(tls::SharedSslContext)> install) {
  if (!global.command_tls.server || !global.command_tls.server->certificate_path) {
    return {};
  }
  return reinstall_with(
      [listen,
       alpn = std::move(alpn)](const GlobalOptions& next) -> Outcome<tls::SharedSslContext> {
        if (!next.command_tls.server) {
          return missing_command_tls();
        }
        return make_server_tls(*next.command_tls.server, listen, alpn);
      },
      std::move(install));
}

Operations::TlsReloader client_tls_reloader(const GlobalOptions& global,
                                            std::vector<std::string> alpn,
                                            std::function<void(tls::SharedSslContext)> install) {
  const auto& flags = global.command_tls.client;
  if (!flags || (!flags->certificate_path && !flags->ca_certificate)) {
    return {};
  }
  return reinstall_with(
      [alpn = std::move(alpn)](const GlobalOptions& next) -> Outcome<tls::SharedSslContext> {
        if (!next.command_tls.client) {
          return missing_command_tls();
        }
        return make_client_tls(*next.command_tls.client, alpn);
      },
      std::move(install));
}

std::function<void()> count_refused_connections(const Operations& operations,
                                                std::string listener) {
  return [metrics = operations.metrics, listener = std::move(listener)] {
    metrics->connections_refused.with({listener}).inc();
  };
}

Outcome<VerificationSourcesPtr> open_verification_sources(const GlobalOptions& global) {
  auto sources = VerificationSources::create(global);
  if (!sources) {
    return sources.error();
  }
  (*sources)->start(global.step_timeout());
  return *sources;
}

Outcome<std::shared_ptr<const ratls::Appraiser>> make_appraiser(
    const GlobalOptions& global, const VerificationSources& sources) {
  auto policy =
      policy::policy_from_options(global.measurements_file, global.allowed_remote_attestation_type);
  if (!policy) {
    return policy.error();
  }
  if (!global.accept_tcb_status.empty()) {
    auto tcb = policy::TcbStatusPolicy::parse(global.accept_tcb_status);
    if (!tcb) {
      return tcb.error();
    }
    policy->set_tcb_status_policy(std::move(*tcb));
  }
  auto shared_policy = std::make_shared<const policy::MeasurementPolicy>(std::move(*policy));
  auto verifiers = sources.make_verifiers(global);
  if (!verifiers) {
    return verifiers.error();
  }
  return std::shared_ptr<const ratls::Appraiser>(
      std::make_shared<ratls::Appraiser>(std::move(shared_policy), std::move(*verifiers)));
}

Outcome<std::shared_ptr<attest::tdx::StaticCollateralSource>> load_collateral_files(
    const std::vector<std::string>& files) {
  auto source = std::make_shared<attest::tdx::StaticCollateralSource>();
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Failure{make_error_code(attest::tdx::Errc::CollateralMalformed),
                     "cannot read " + file};
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto first = text.find_first_not_of(" \t\r\n");
    auto documents = first != std::string::npos && text[first] == '{'
                         ? attest::tdx::collateral_from_json(text)
                         : attest::tdx::collateral_from_yaml(text);
    if (!documents) {
      return Failure{documents.error().code, file + ": " + documents.error().detail};
    }
    auto parsed = attest::tdx::Collateral::parse(std::move(*documents));
    if (!parsed) {
      return Failure{parsed.error().code, file + ": " + parsed.error().detail};
    }
    if (auto added = source->add(std::move(*parsed)); !added) {
      return Failure{added.error().code, file + ": " + added.error().detail};
    }
  }
  return source;
}

Outcome<tls::SharedSslContext> make_client_tls(const ClientTlsFlags& flags,
                                               std::vector<std::string> alpn) {
  tls::ClientContextOptions options;
  options.alpn = std::move(alpn);
  options.allow_self_signed = flags.allow_self_signed;
  if (flags.ca_certificate && !flags.allow_self_signed) {
    auto anchors = tls::load_certificates(*flags.ca_certificate);
    if (!anchors) {
      return anchors.error();
    }
    options.extra_trust_anchors = std::move(*anchors);
  }
  if (flags.private_key_path.has_value() != flags.certificate_path.has_value()) {
    return Failure{make_error_code(tls::Errc::NoCertificate),
                   "--tls-private-key-path and --tls-certificate-path must be given together"};
  }
  std::optional<tls::Credentials> credentials;
  if (flags.private_key_path && !flags.allow_self_signed) {
    auto loaded = tls::load_credentials(*flags.certificate_path, *flags.private_key_path);
    if (!loaded) {
      return loaded.error();
    }
    credentials = std::move(*loaded);
    options.client_credentials = &*credentials;
  }
  return tls::make_client_context(options);
}

Outcome<tls::SharedSslContext> make_server_tls(const ServerTlsFlags& flags,
                                               const boost::asio::ip::tcp::endpoint& listen,
                                               std::vector<std::string> alpn) {
  if (flags.private_key_path.has_value() != flags.certificate_path.has_value()) {
    return Failure{make_error_code(tls::Errc::NoCertificate),
                   "--tls-private-key-path and --tls-certificate-path must be given together"};
  }
  tls::Credentials credentials;
  if (flags.private_key_path) {
    auto loaded = tls::load_credentials(*flags.certificate_path, *flags.private_key_path);
    if (!loaded) {
      return loaded.error();
    }
    credentials = std::move(*loaded);
  } else {
    // §1.3: an ephemeral self-signed certificate whose SAN is the listen address.
    auto generated = tls::make_self_signed_credentials(listen.address().to_string(),
                                                       std::chrono::system_clock::now());
    if (!generated) {
      return generated.error();
    }
    credentials = std::move(*generated);
    spdlog::info(
        "no TLS certificate given: using an ephemeral self-signed certificate for {} "
        "(clients need --allow-self-signed; trust then rests on the attestation)",
        listen.address().to_string());
  }
  tls::ServerContextOptions options;
  options.credentials = &credentials;
  options.alpn_preference = std::move(alpn);
  options.require_client_certificate = flags.client_auth;
  if (flags.client_ca_certificate) {
    auto anchors = tls::load_certificates(*flags.client_ca_certificate);
    if (!anchors) {
      return anchors.error();
    }
    options.client_trust_anchors = std::move(*anchors);
  }
  return tls::make_server_context(options);
}

Outcome<attest::AttesterPtr> make_local_attester(const std::string& type,
                                                 const std::optional<std::string>& dev_dummy_dcap,
                                                 const std::optional<std::string>& mock_tee) {
  if (mock_tee) {
    const auto parsed = attest::parse_attestation_type(type);
    if (!parsed || *parsed == attest::AttestationType::None) {
      return Failure{make_error_code(attest::Errc::UnknownAttestationType),
                     "--insecure-mock-tee needs an explicit attestation type (e.g. sev-snp)"};
    }
    spdlog::warn(
        "INSECURE: --insecure-mock-tee: this process attests with MOCK {} evidence "
        "from {}; it proves nothing about this machine. For tests and demos only.",
        type, *mock_tee);
    return attest::mock::make_mock_attester(*mock_tee, *parsed);
  }
  if (dev_dummy_dcap) {
    const auto parsed = attest::parse_attestation_type(type);
    if (!parsed) {
      return Failure{make_error_code(net::Errc::InvalidUrl),
                     "--dev-dummy-dcap needs an explicit attestation type (auto is not allowed)"};
    }
    auto provider = ratls::ProviderAttester::create(*dev_dummy_dcap, *parsed);
    if (!provider) {
      return provider.error();
    }
    return attest::AttesterPtr(std::move(*provider));
  }
  // Production: configfs-tsm / the TEE guest devices / the TDX QGS, or `auto` detection. The
  // paths, the QGS address and the GCP metadata URL come from ATLS_TSM_REPORT_ROOT,
  // ATLS_SEV_GUEST_DEVICE, ATLS_TDX_GUEST_DEVICE, ATLS_TDX_QGS_ADDRESS and ATLS_GCP_METADATA_URL
  // when set (test and advanced knobs, docs/cli.md).
  return attest::local::make_attester(type, attest::local::options_from_environment());
}

ratls::ChannelConfig make_channel_config(attest::AttesterPtr attester,
                                         std::shared_ptr<const ratls::Appraiser> appraiser,
                                         boost::asio::any_io_executor attestation_executor,
                                         const GlobalOptions& global,
                                         std::shared_ptr<ratls::ChannelObserver> observer) {
  ratls::ChannelConfig config;
  config.observer = std::move(observer);
  config.attester = std::move(attester);
  config.appraiser = std::move(appraiser);
  config.attestation_executor = std::move(attestation_executor);
  config.step_timeout = global.step_timeout();
  config.clock = std::make_shared<SystemClock>();
  if (global.log_dcap_quote) {
    config.evidence_log_dir = std::filesystem::path("quotes");
  }
  return config;
}

std::chrono::milliseconds GlobalOptions::drain_timeout() const {
  return std::chrono::milliseconds(static_cast<long long>(drain_timeout_seconds * 1000.0));
}

Outcome<std::unique_ptr<Operations>> start_operations(
    const GlobalOptions& global, Runtime& runtime, const attest::AttesterPtr& attester,
    std::shared_ptr<const ratls::Appraiser> initial, VerificationSourcesPtr sources) {
  const ratls::Appraiser& appraiser = *initial;
  auto ops_state = std::make_unique<Operations>();
  ops_state->sources = std::move(sources);
  ops_state->appraisers = std::make_shared<ratls::AppraiserSlot>(initial);
  ops_state->registry = std::make_shared<ops::Registry>();
  ops_state->metrics = std::make_shared<ops::ProxyMetrics>(ops_state->registry);
  register_source_metrics(*ops_state->registry, ops_state->sources);
  ops_state->readiness = std::make_shared<ops::Readiness>();
  if (global.audit_log) {
    auto fsync = ops::parse_fsync_policy(global.audit_fsync);
    if (!fsync) {
      Failure failure = fsync.error();
      failure.detail = "--audit-fsync: " + failure.detail;
      return failure;
    }
    ops::AuditOptions audit_options;
    audit_options.fsync = *fsync;
    auto metrics = ops_state->metrics;
    audit_options.on_record_written = [metrics] { metrics->audit_records.get().inc(); };
    audit_options.on_write_failure = [metrics](const Failure& failure) {
      metrics->audit_write_failures.get().inc();
      spdlog::error("audit log: {}", failure.describe());
    };
    auto audit = ops::AuditLog::open(*global.audit_log, std::move(audit_options));
    if (!audit) {
      Failure failure = audit.error();
      failure.detail = "--audit-log: " + failure.detail;
      return failure;
    }
    ops_state->audit = std::move(*audit);
    spdlog::info("audit log: {} (fsync {})", global.audit_log->c_str(), global.audit_fsync);
  }
  ops_state->recorder =
      std::make_shared<ops::ChannelRecorder>(ops_state->metrics, ops_state->audit);

  // Readiness: the policy is loaded (we got here), and the local attester must produce
  // evidence once (a TEE whose quote generation is broken is not ready to serve).
  ops_state->readiness->set(
      "policy", true,
      fmt::format("{} record(s) from {}", appraiser.policy().records().size(),
                  appraiser.policy().source().empty() ? std::string("flags")
                                                      : appraiser.policy().source()));
  if (ops_state->sources) {
    // Weakly held: the readiness outlives nothing but is queried from the admin listener.
    std::weak_ptr<const VerificationSources> weak_sources = ops_state->sources;
    ops_state->readiness->add_probe("collateral", [weak_sources] {
      const auto live = weak_sources.lock();
      return live ? live->collateral_readiness() : ops::ReadinessCheck{false, "shutting down"};
    });
  }
  if (attester->type() == attest::AttestationType::None) {
    ops_state->readiness->set("attester", true, "not attesting (none)");
  } else {
    ops_state->readiness->set("attester", false, "self-test pending");
    auto readiness = ops_state->readiness;
    boost::asio::post(runtime.attestation_executor(), [attester, readiness] {
      attest::ReportData probe{};
      probe.fill(0xA5);
      auto evidence = attester->generate_evidence(probe);
      if (evidence) {
        readiness->set("attester", true,
                       fmt::format("{} evidence generated ({} bytes)",
                                   attest::to_string(attester->type()), evidence->size()));
      } else {
        // The process keeps running (the TEE may recover, e.g. a restarting quoting service),
        // but every handshake that needs local evidence fails until it does.
        readiness->set("attester", false, evidence.error().describe());
        spdlog::error(
            "readiness: cannot generate {} evidence: {}. /attestation/ready reports not ready "
            "and attested handshakes will fail until evidence can be generated (is this a {} "
            "guest, with configfs-tsm and the privileges to use it? docs/cli.md)",
            attest::to_string(attester->type()), evidence.error().describe(),
            attest::family_of(attester->type()) == attest::Family::Snp ? "SEV-SNP" : "TDX");
      }
    });
  }

  if (global.admin_listen) {
    auto listen = parse_listen(*global.admin_listen, "--admin-listen-addr");
    if (!listen) {
      return listen.error();
    }
    ops_state->admin = std::make_unique<proxy::PlainHttpServer>(
        runtime.main_io(),
        ops::admin_handler(ops_state->registry, ops_state->readiness, ATLS_VERSION));
    auto bound = ops_state->admin->listen(*listen);
    if (!bound) {
      return bound.error();
    }
    spdlog::info("admin endpoints (/health, /attestation/ready, /metrics) on {}:{}",
                 bound->address().to_string(), bound->port());
  }
  return ops_state;
}

Outcome<boost::asio::ip::tcp::endpoint> parse_listen(const std::string& text,
                                                     std::string_view flag) {
  auto endpoint = net::parse_socket_address(text);
  if (!endpoint) {
    Failure failure = endpoint.error();
    failure.detail = std::string(flag) + ": " + failure.detail;
    return failure;
  }
  return *endpoint;
}

namespace {

// Polls `drained` until it holds or the deadline passes, then stops the runtime.
void stop_when_drained(Runtime& runtime, std::shared_ptr<boost::asio::steady_timer> timer,
                       std::function<bool()> drained,
                       std::chrono::steady_clock::time_point deadline) {
  if (!drained || drained() || std::chrono::steady_clock::now() >= deadline) {
    if (drained && !drained()) {
      spdlog::warn("drain deadline reached with work in flight: stopping anyway");
    } else {
      spdlog::info("drained: stopping");
    }
    runtime.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(50));
  timer->async_wait([&runtime, timer, drained = std::move(drained),
                     deadline](const boost::system::error_code& ec) mutable {
    if (!ec) {
      stop_when_drained(runtime, timer, std::move(drained), deadline);
    }
  });
}

}  // namespace

void stop_on_signals(Runtime& runtime, std::function<void()> on_stop,
                     std::chrono::milliseconds drain_timeout, std::function<bool()> drained) {
  auto signals = std::make_shared<boost::asio::signal_set>(runtime.main_io(), SIGINT, SIGTERM);
  signals->async_wait([signals, &runtime, on_stop = std::move(on_stop), drain_timeout,
                       drained = std::move(drained)](const boost::system::error_code& ec,
                                                     int signal_number) mutable {
    if (ec) {
      return;
    }
    if (drain_timeout.count() > 0 && drained) {
      spdlog::info("signal {} received: draining (up to {} ms; a second signal stops at once)",
                   signal_number, drain_timeout.count());
    } else {
      spdlog::info("signal {} received: shutting down", signal_number);
    }
    if (on_stop) {
      on_stop();
    }
    // A second signal ends the drain at once.
    signals->async_wait([signals, &runtime](const boost::system::error_code& again, int number) {
      if (!again) {
        spdlog::warn("signal {} received again: stopping now", number);
        runtime.stop();
      }
    });
    auto timer = std::make_shared<boost::asio::steady_timer>(runtime.main_io());
    stop_when_drained(runtime, timer, drain_timeout.count() > 0 ? std::move(drained) : nullptr,
                      std::chrono::steady_clock::now() + drain_timeout);
  });
}

bool is_attestation_rejection(const ErrorCode& ec) {
  const auto& category = ec.category();
  if (category == ratls::ratls_category()) {
    switch (static_cast<ratls::Errc>(ec.value())) {
      case ratls::Errc::FrameTooLarge:
      case ratls::Errc::CompactInvalid:
      case ratls::Errc::CompactNonMinimal:
      case ratls::Errc::FieldOverrun:
      case ratls::Errc::TrailingBytes:
      case ratls::Errc::UnknownAttestationType:
      case ratls::Errc::AttestationTypeNotAccepted:
      case ratls::Errc::AttestationGivenWhenNoneExpected:
      case ratls::Errc::AttestationTypeNotSupported:
      case ratls::Errc::MeasurementsNotAccepted:
      case ratls::Errc::TcbStatusNotAccepted: return true;
      default: return false;
    }
  }
  // Transport categories are connection problems; any other project category belongs to an
  // evidence verifier.
  const bool transport = category == boost::system::system_category() ||
                         category == boost::system::generic_category() ||
                         category == boost::asio::error::get_misc_category() ||
                         category == boost::asio::error::get_netdb_category() ||
                         category == boost::asio::error::get_addrinfo_category() ||
                         category == boost::asio::error::get_ssl_category() ||
                         category == boost::asio::ssl::error::get_stream_category() ||
                         category == net::net_category() || category == tls::tls_category();
  return !transport;
}

int exit_code_for_channel_failure(const Failure& failure) {
  return is_attestation_rejection(failure.code) ? kExitAttestation : kExitConnection;
}

}  // namespace atls::cli
