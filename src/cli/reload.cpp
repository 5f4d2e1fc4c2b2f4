#include "cli/reload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <mutex>
#include <set>

#include "cli/app.h"
#include "ops/file_watch.h"
#include "policy/loader.h"

namespace atls::cli {
namespace {

// Global options a reload applies: what the appraiser is built from, and the log level. One
// table names each option and copies its member, so the options reported as applied and the
// members merge_reloadable applies cannot drift apart.
struct ReloadableOption {
  std::string_view flag;
  void (*apply)(GlobalOptions& merged, const GlobalOptions& reparsed);
};
constexpr std::array<ReloadableOption, 6> kReloadableGlobalOptions{{
    {"--measurements-file",
     [](GlobalOptions& m, const GlobalOptions& r) { m.measurements_file = r.measurements_file; }},
    {"--allowed-remote-attestation-type",
     [](GlobalOptions& m, const GlobalOptions& r) {
       m.allowed_remote_attestation_type = r.allowed_remote_attestation_type;
     }},
    {"--collateral",
     [](GlobalOptions& m, const GlobalOptions& r) { m.collateral_files = r.collateral_files; }},
    {"--accept-tcb-status",
     [](GlobalOptions& m, const GlobalOptions& r) { m.accept_tcb_status = r.accept_tcb_status; }},
    {"--override-azure-outdated-tcb",
     [](GlobalOptions& m, const GlobalOptions& r) {
       m.override_azure_outdated_tcb = r.override_azure_outdated_tcb;
     }},
    {"--log-debug", [](GlobalOptions& m, const GlobalOptions& r) { m.log_debug = r.log_debug; }},
}};

// Subcommand options the TLS reloaders read (GlobalOptions::command_tls).
constexpr std::array<std::string_view, 6> kReloadableTlsOptions{
    "--tls-private-key-path",  "--tls-certificate-path", "--tls-ca-certificate",
    "--client-ca-certificate", "--client-auth",          "--allow-self-signed",
};

// A quiet time after the last file event before reloading: a certificate and its key are
// usually replaced one after the other, and editors write, rename and chmod.
constexpr std::chrono::milliseconds kFileSettleTime{500};

}  // namespace

bool is_reloadable_option(std::string_view key, bool reloads_tls) {
  const auto space = key.rfind(' ');
  if (space == std::string_view::npos) {
    return std::any_of(kReloadableGlobalOptions.begin(), kReloadableGlobalOptions.end(),
                       [key](const ReloadableOption& option) { return option.flag == key; });
  }
  const auto option = key.substr(space + 1);
  return reloads_tls && std::find(kReloadableTlsOptions.begin(), kReloadableTlsOptions.end(),
                                  option) != kReloadableTlsOptions.end();
}

GlobalOptions merge_reloadable(const GlobalOptions& running, const GlobalOptions& reparsed,
                               bool reloads_tls, std::vector<std::string>& needs_restart) {
  GlobalOptions merged = running;
  for (const auto& option : kReloadableGlobalOptions) {
    option.apply(merged, reparsed);
  }
  // A server that loses its certificate files would fall back to an ephemeral self-signed
  // certificate: that is a different deployment, not a rotation, so it needs a restart.
  const bool drops_server_certificate =
      running.command_tls.server && running.command_tls.server->certificate_path &&
      !(reparsed.command_tls.server && reparsed.command_tls.server->certificate_path);
  const bool takes_tls = reloads_tls && !drops_server_certificate;
  if (takes_tls) {
    merged.command_tls = reparsed.command_tls;
  }

  std::set<std::string> keys;
  for (const auto& [key, _] : running.launch.values) {
    keys.insert(key);
  }
  for (const auto& [key, _] : reparsed.launch.values) {
    keys.insert(key);
  }
  for (const auto& key : keys) {
    const auto before = running.launch.values.find(key);
    const auto after = reparsed.launch.values.find(key);
    const bool changed =
        (before == running.launch.values.end()) != (after == reparsed.launch.values.end()) ||
        (before != running.launch.values.end() && before->second != after->second);
    if (!changed) {
      continue;
    }
    if (is_reloadable_option(key, takes_tls)) {
      if (after == reparsed.launch.values.end()) {
        merged.launch.values.erase(key);
      } else {
        merged.launch.values[key] = after->second;
      }
    } else {
      needs_restart.push_back(key);
    }
  }
  return merged;
}

std::vector<std::string> reloadable_files(const GlobalOptions& options) {
  std::vector<std::string> files;
  const auto add = [&files](const std::optional<std::string>& file) {
    if (file && !file->empty()) {
      files.push_back(*file);
    }
  };
  add(options.launch.config_path);
  if (options.measurements_file && !policy::is_measurements_url(*options.measurements_file)) {
    add(options.measurements_file);
  }
  for (const auto& file : options.collateral_files) {
    add(file);
  }
  if (const auto& server = options.command_tls.server) {
    add(server->certificate_path);
    add(server->private_key_path);
    add(server->client_ca_certificate);
  }
  if (const auto& client = options.command_tls.client) {
    add(client->certificate_path);
    add(client->private_key_path);
    add(client->ca_certificate);
  }
  return files;
}

namespace {

// Owns the running options and applies reloads one at a time. Shared by the SIGHUP handler,
// the file watch and the reload tasks on the attestation pool; holds the Operations parts it
// needs by shared pointer, so a task that outlives the command touches nothing freed.
class Reloader : public std::enable_shared_from_this<Reloader> {
 public:
  Reloader(Runtime& runtime, GlobalOptions running, const Operations& operations)
      : main_(runtime.main_io().get_executor()),
        attestation_(runtime.attestation_executor()),
        signals_(runtime.main_io(), SIGHUP),
        running_(std::move(running)),
        metrics_(operations.metrics),
        readiness_(operations.readiness),
        appraisers_(operations.appraisers),
        on_policy_reloaded_(operations.on_policy_reloaded),
        tls_reloader_(operations.tls_reloader),
        sources_(operations.sources) {}

  void start() {
    await_signal();
    if (running_.reload_on_change) {
      std::weak_ptr<Reloader> weak = shared_from_this();
      auto watch = ops::FileWatch::create(main_, kFileSettleTime, [weak] {
        if (auto self = weak.lock()) {
          self->request("a watched file changed");
        }
      });
      if (!watch) {
        spdlog::error("--reload-on-change: {}; reload with SIGHUP instead",
                      watch.error().describe());
        return;
      }
      watch_ = *watch;
      std::vector<std::string> files;
      {
        // A SIGHUP may already be reloading on the attestation pool.
        const std::lock_guard lock(mutex_);
        files = reloadable_files(running_);
      }
      watch_files(files);
    }
  }

 private:
  void await_signal() {
    signals_.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
      if (ec) {
        return;
      }
      self->request("SIGHUP");
      self->await_signal();
    });
  }

  // File and URL reads block: reload on the attestation pool.
  void request(std::string trigger) {
    boost::asio::post(attestation_, [self = shared_from_this(), trigger = std::move(trigger)] {
      self->reload(trigger);
    });
  }

  void watch_files(const std::vector<std::string>& files) {
    const auto before = watch_->files();
    std::vector<std::filesystem::path> paths(files.begin(), files.end());
    if (auto watched = watch_->watch(paths); !watched) {
      spdlog::error("--reload-on-change: {}; the previous files stay watched",
                    watched.error().describe());
      return;
    }
    if (watch_->files() != before) {
      spdlog::info("reload on change: watching {}", fmt::join(files, ", "));
    }
  }

  void reject(std::string_view what, const Failure& failure) {
    metrics_->reloads.with({"failure"}).inc();
    spdlog::error("reload rejected ({}): {}; the previous configuration stays in force", what,
                  failure.describe());
  }

  void reload(const std::string& trigger) {
    // Reloads are serialised: the attestation pool has several threads, and each reload
    // starts from the options the previous one left in force.
    const std::lock_guard lock(mutex_);
    spdlog::info("{}: reloading the configuration, policy and TLS certificates", trigger);
    GlobalOptions next = running_;
    std::vector<std::string> needs_restart;
    if (running_.launch.config_path) {
      // The whole command line again: flags and the environment still override the file.
      auto reparsed = parse_command_line(running_.launch.arguments);
      if (!reparsed) {
        reject("config file " + *running_.launch.config_path, reparsed.error());
        return;
      }
      next =
          merge_reloadable(running_, *reparsed, static_cast<bool>(*tls_reloader_), needs_restart);
    }
    auto appraiser = make_appraiser(next, *sources_);
    if (!appraiser) {
      reject("policy", appraiser.error());
      return;
    }
    // Certificates reload with the policy, all or nothing: a bad certificate file rejects the
    // whole reload, so the process never runs half of a new configuration.
    std::function<void()> install_tls;
    if (*tls_reloader_) {
      auto prepared = (*tls_reloader_)(next);
      if (!prepared) {
        reject("TLS certificate", prepared.error());
        return;
      }
      install_tls = std::move(*prepared);
    }

    running_ = next;
    spdlog::default_logger()->set_level(running_.log_debug ? spdlog::level::debug
                                                           : spdlog::level::info);
    const auto& policy = (*appraiser)->policy();
    readiness_->set("policy", true,
                    fmt::format("{} record(s) from {} (reloaded)", policy.records().size(),
                                policy.source().empty() ? std::string("flags") : policy.source()));
    std::shared_ptr<const ratls::Appraiser> in_force = *appraiser;
    appraisers_->set(std::move(*appraiser));
    metrics_->reloads.with({"success"}).inc();
    spdlog::info("policy reloaded: {} record(s); new channels use it, open ones are re-checked",
                 policy.records().size());
    if (!needs_restart.empty()) {
      spdlog::warn(
          "reload: these changed options take effect only after a restart (their running values "
          "stay): {}",
          fmt::join(needs_restart, ", "));
    }
    // On the main io_context: it stops running handlers when the command returns, so the hook
    // never outlives the listeners it refers to.
    // reload_on_change needs a restart, so the running value says whether a watch exists.
    std::vector<std::string> files;
    if (running_.reload_on_change) {
      files = reloadable_files(running_);
    }
    boost::asio::post(main_, [self = shared_from_this(), in_force, install_tls,
                              files = std::move(files)] {
      if (install_tls) {
        install_tls();
        spdlog::info("TLS certificate reloaded: new connections present it, open ones keep theirs");
      }
      if (*self->on_policy_reloaded_) {
        (*self->on_policy_reloaded_)(in_force);
      }
      if (self->watch_) {
        self->watch_files(files);  // the config file may name other files now
      }
    });
  }

  boost::asio::any_io_executor main_;
  boost::asio::any_io_executor attestation_;
  boost::asio::signal_set signals_;
  std::shared_ptr<ops::FileWatch> watch_;  // main io_context only
  std::mutex mutex_;
  GlobalOptions running_;  // guarded by mutex_
  std::shared_ptr<ops::ProxyMetrics> metrics_;
  std::shared_ptr<ops::Readiness> readiness_;
  std::shared_ptr<ratls::AppraiserSlot> appraisers_;
  std::shared_ptr<Operations::ReloadHook> on_policy_reloaded_;
  std::shared_ptr<Operations::TlsReloader> tls_reloader_;
  VerificationSourcesPtr sources_;
};

}  // namespace

void reload_on_sighup(Runtime& runtime, const GlobalOptions& global, Operations& operations) {
  std::make_shared<Reloader>(runtime, global, operations)->start();
}

}  // namespace atls::cli
