#include "cli/config_file.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/commands.h"

namespace atls::cli {
namespace {

const CLI::App* find_subcommand(const CLI::App& app, const std::string& name) {
  const auto found = app.get_subcommands(std::function<bool(const CLI::App*)>(
      [&name](const CLI::App* sub) { return sub->get_name() == name; }));
  return found.empty() ? nullptr : found.front();
}

[[noreturn]] void fail_at(const YAML::Node& node, const std::string& message) {
  const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
  throw CLI::ConfigError(fmt::format("config line {}: {}", line, message));
}

std::string scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    fail_at(node, key + " must be a single value");
  }
  return node.Scalar();
}

std::vector<std::string> values_of(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    return {node.Scalar()};
  }
  if (node.IsSequence()) {
    std::vector<std::string> out;
    for (const auto& element : node) {
      out.push_back(scalar(element, key + " element"));
    }
    return out;
  }
  fail_at(node, key + " must be a value or a list of values");
}

void require_map(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) {
    fail_at(node, key + " must be a mapping");
  }
}

bool truthy(const YAML::Node& node, const std::string& key) {
  const std::string value = scalar(node, key);
  if (value == "true" || value == "yes" || value == "on") {
    return true;
  }
  if (value == "false" || value == "no" || value == "off") {
    return false;
  }
  fail_at(node, key + " must be true or false, not '" + value + "'");
}

std::string seconds_text(const YAML::Node& node, const std::string& key) {
  const auto seconds = parse_duration_seconds(scalar(node, key));
  if (!seconds) {
    fail_at(node, key + ": '" + node.Scalar() + "' is not a duration (e.g. 60s, 5m, 1h, 250ms)");
  }
  return fmt::format("{}", *seconds);
}

// Collects items and validates every key against the application.
class Translator {
 public:
  Translator(const CLI::App& app, std::string subcommand)
      : app_(app), subcommand_(std::move(subcommand)) {
    if (!subcommand_.empty()) {
      sub_ = find_subcommand(app_, subcommand_);
    }
  }

  std::vector<CLI::ConfigItem> run(const YAML::Node& root) {
    if (root.IsNull()) {
      return {};
    }
    require_map(root, "the top level");
    for (const auto& entry : root) {
      const std::string key = scalar(entry.first, "a key");
      const YAML::Node& value = entry.second;
      if (key == "mode") {
        const std::string mode = scalar(value, key);
        if (!subcommand_.empty() && mode != subcommand_) {
          fail_at(entry.first, "mode is '" + mode + "' but the command is '" + subcommand_ + "'");
        }
      } else if (key == "proxy") {
        proxy_section(value);
      } else if (key == "attestation") {
        attestation_section(value);
      } else if (key == "logging") {
        logging_section(value);
      } else if (key == "policy") {
        policy_section(value);
      } else if (key == "admin") {
        admin_section(value);
      } else if (key == "tokens") {
        tokens_section(value);
      } else if (const CLI::App* sub = find_subcommand(app_, key)) {
        subcommand_section(*sub, key, value);
      } else if (app_.get_option_no_throw("--" + key) != nullptr) {
        emit_global(entry.first, key, values_of(value, key));
      } else {
        fail_at(entry.first, "unknown key '" + key + "'");
      }
    }
    return std::move(items_);
  }

 private:
  // Environment beats file: skip an option whose environment variable is set.
  static bool overridden_by_environment(const CLI::Option* option) {
    const std::string& env = option->get_envname();
    return !env.empty() && std::getenv(env.c_str()) != nullptr;
  }

  void emit_global(const YAML::Node& where, const std::string& flag,
                   std::vector<std::string> inputs) {
    const CLI::Option* option = app_.get_option_no_throw("--" + flag);
    if (option == nullptr) {
      fail_at(where, "unknown option '" + flag + "'");
    }
    if (!overridden_by_environment(option)) {
      items_.push_back(CLI::ConfigItem{{}, flag, std::move(inputs)});
    }
  }

  // An option of the subcommand being run (`name` = long flag without dashes, or positional).
  void emit_sub(const YAML::Node& where, const std::string& key, const std::string& name,
                std::vector<std::string> inputs) {
    if (sub_ == nullptr) {
      if (subcommand_.empty()) {
        fail_at(where, key + " needs a subcommand (give one, or `mode:` in the file)");
      }
      return;
    }
    const CLI::Option* option = find_in(*sub_, name);
    if (option == nullptr) {
      fail_at(where, key + " does not apply to '" + subcommand_ + "'");
    }
    if (!overridden_by_environment(option)) {
      items_.push_back(CLI::ConfigItem{{subcommand_}, name, std::move(inputs)});
    }
  }

  static const CLI::Option* find_in(const CLI::App& sub, const std::string& name) {
    if (const CLI::Option* option = sub.get_option_no_throw("--" + name)) {
      return option;
    }
    return sub.get_option_no_throw(name);
  }

  void subcommand_section(const CLI::App& sub, const std::string& name, const YAML::Node& node) {
    require_map(node, name);
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      const CLI::Option* option = find_in(sub, key);
      if (option == nullptr) {
        fail_at(entry.first, fmt::format("unknown option '{}' of '{}'", key, name));
      }
      if (name == subcommand_ && !overridden_by_environment(option)) {
        items_.push_back(
            CLI::ConfigItem{{name}, key, values_of(entry.second, fmt::format("{}.{}", name, key))});
      }
    }
  }

  // The subcommand's local attestation type flag (server/client naming differs).
  std::string attestation_type_flag() const {
    for (const char* candidate : {"server-attestation-type", "client-attestation-type"}) {
      if (sub_ != nullptr && sub_->get_option_no_throw(std::string("--") + candidate)) {
        return candidate;
      }
    }
    return "server-attestation-type";
  }

  void proxy_section(const YAML::Node& node) {
    require_map(node, "proxy");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "listen") {
        emit_sub(entry.first, "proxy.listen", "listen-addr", {scalar(entry.second, key)});
      } else if (key == "server") {
        if (subcommand_ == "server" || subcommand_ == "pg-server") {
          fail_at(entry.first,
                  "proxy.server is the proxy-server a client connects to; a "
                  "server forwards to proxy.backend");
        }
        emit_sub(entry.first, "proxy.server", "target_addr", {scalar(entry.second, key)});
      } else if (key == "backend") {
        backend(entry.second);
      } else {
        fail_at(entry.first, "unknown key 'proxy." + key + "'");
      }
    }
  }

  void backend(const YAML::Node& node) {
    // The backend is what a proxy-server forwards to; a client's peer is `proxy.server`.
    if (!subcommand_.empty() && subcommand_ != "server" && subcommand_ != "pg-server") {
      fail_at(node, "proxy.backend does not apply to '" + subcommand_ + "'");
    }
    const std::string address_option = subcommand_ == "pg-server" ? "backend_addr" : "target_addr";
    if (node.IsScalar()) {
      emit_sub(node, "proxy.backend", address_option, {node.Scalar()});
      return;
    }
    require_map(node, "proxy.backend");
    std::string host;
    std::string port;
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "host") {
        host = scalar(entry.second, key);
      } else if (key == "port") {
        port = scalar(entry.second, key);
      } else if (key == "tls") {
        backend_tls(entry.first, entry.second);
      } else {
        fail_at(entry.first, "unknown key 'proxy.backend." + key + "'");
      }
    }
    if (host.empty()) {
      fail_at(node, "proxy.backend needs a host");
    }
    emit_sub(node, "proxy.backend", address_option, {port.empty() ? host : host + ":" + port});
  }

  // proxy.backend.tls (seed 002 schema: enabled, ca_cert) → the pg-server --backend-* flags.
  void backend_tls(const YAML::Node& key_node, const YAML::Node& node) {
    if (subcommand_ == "server") {
      fail_at(key_node,
              "proxy.backend.tls: TLS to the backend is configured in database "
              "mode (pg-server, see docs/database.md); the HTTP proxy-server speaks plain "
              "HTTP to its target on the same host");
    }
    require_map(node, "proxy.backend.tls");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      const std::string where = "proxy.backend.tls." + key;
      if (key == "enabled") {
        // Enabled means verified: there is no "TLS without verification" setting.
        emit_sub(entry.first, where, "backend-sslmode",
                 {truthy(entry.second, where) ? "verify-full" : "disable"});
      } else if (key == "ca_cert") {
        emit_sub(entry.first, where, "backend-ca", {scalar(entry.second, where)});
      } else if (key == "client_cert") {
        emit_sub(entry.first, where, "backend-cert", {scalar(entry.second, where)});
      } else if (key == "client_key") {
        emit_sub(entry.first, where, "backend-key", {scalar(entry.second, where)});
      } else if (key == "server_name") {
        emit_sub(entry.first, where, "backend-server-name", {scalar(entry.second, where)});
      } else if (key == "negotiation") {
        emit_sub(entry.first, where, "backend-sslnegotiation", {scalar(entry.second, where)});
      } else {
        fail_at(entry.first, "unknown key '" + where + "'");
      }
    }
  }

  void attestation_section(const YAML::Node& node) {
    require_map(node, "attestation");
    std::optional<std::string> provider;
    YAML::Node provider_key;
    YAML::Node simulated;
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "provider") {
        provider = scalar(entry.second, key);
        provider_key = entry.first;
      } else if (key == "simulated") {
        require_map(entry.second, "attestation.simulated");
        simulated = entry.second;
      } else if (key == "policy") {
        attestation_policy(entry.second);
      } else if (key == "tdx_collateral") {
        tdx_collateral(entry.second);
      } else if (key == "snp_certificates") {
        snp_certificates(entry.second);
      } else if (key == "nonce_ttl") {
        fail_at(entry.first,
                "attestation.nonce_ttl does not apply: freshness comes from binding "
                "each attestation to its TLS session (exporter), not from nonces; "
                "use policy.max_attestation_age to bound a channel's age");
      } else {
        fail_at(entry.first, "unknown key 'attestation." + key + "'");
      }
    }
    if (!provider) {
      // (A default-constructed YAML::Node is a defined null, so test for the mapping.)
      if (simulated.IsMap()) {
        fail_at(simulated, "attestation.simulated needs attestation.provider: simulated");
      }
      return;
    }
    static const std::set<std::string> kTypes{"none",     "auto",      "dcap-tdx", "gcp-tdx",
                                              "qemu-tdx", "azure-tdx", "sev-snp",  "gcp-snp"};
    std::string type = *provider;
    if (type == "gcp") {
      type = "auto";  // GCP confidential VMs: TDX or SNP, detected at start-up
    } else if (type == "azure") {
      type = "azure-tdx";
    } else if (type == "veraison") {
      fail_at(provider_key,
              "attestation.provider: veraison verifier clients are not "
              "implemented yet");
    } else if (type == "simulated") {
      if (!simulated || !simulated["directory"]) {
        fail_at(provider_key,
                "attestation.provider: simulated needs attestation.simulated."
                "directory (made by `atls-proxy mock-tee init DIR`)");
      }
      spdlog::warn(
          "config: attestation.provider is 'simulated': the INSECURE mock TEE is used; "
          "this proves nothing about the machine (tests and demos only)");
      type = simulated["type"] ? scalar(simulated["type"], "attestation.simulated.type")
                               : std::string("dcap-tdx");
      const std::string directory = scalar(simulated["directory"], "directory");
      emit_sub(provider_key, "attestation.simulated.directory", "insecure-mock-tee", {directory});
      if (simulated["trust"] && truthy(simulated["trust"], "attestation.simulated.trust")) {
        emit_global(simulated["trust"], "insecure-trust-mock-tee", {directory});
      }
      for (const auto& entry : simulated) {
        const std::string key = scalar(entry.first, "a key");
        if (key != "directory" && key != "type" && key != "trust") {
          fail_at(entry.first, "unknown key 'attestation.simulated." + key + "'");
        }
      }
    }
    if (kTypes.count(type) == 0) {
      fail_at(provider_key, "attestation.provider: unknown provider or type '" + *provider + "'");
    }
    emit_sub(provider_key, "attestation.provider", attestation_type_flag(), {type});
  }

  void attestation_policy(const YAML::Node& node) {
    require_map(node, "attestation.policy");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "measurements_file") {
        emit_global(entry.first, "measurements-file", {scalar(entry.second, key)});
      } else if (key == "allowed_remote_attestation_type") {
        emit_global(entry.first, "allowed-remote-attestation-type", {scalar(entry.second, key)});
      } else if (key == "accept_tcb_status") {
        emit_global(entry.first, "accept-tcb-status", values_of(entry.second, key));
      } else if (key == "collateral") {
        emit_global(entry.first, "collateral", values_of(entry.second, key));
      } else if (key == "measurements") {
        fail_at(entry.first,
                "attestation.policy.measurements: name/hash pairs do not say which "
                "register they constrain; write a measurement policy file "
                "(docs/policy.md) and set attestation.policy.measurements_file");
      } else if (key == "tcb_version_min") {
        fail_at(entry.first,
                "attestation.policy.tcb_version_min: TCB acceptance is by status "
                "here; use attestation.policy.accept_tcb_status (docs/policy.md)");
      } else {
        fail_at(entry.first, "unknown key 'attestation.policy." + key + "'");
      }
    }
  }

  // The TDX collateral service (docs/operations.md "Collateral and certificates").
  void tdx_collateral(const YAML::Node& node) {
    require_map(node, "attestation.tdx_collateral");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "pccs_url") {
        emit_global(entry.first, "pccs-url", {scalar(entry.second, key)});
      } else if (key == "cache_dir") {
        emit_global(entry.first, "collateral-cache-dir", {scalar(entry.second, key)});
      } else if (key == "prefetch") {
        emit_global(entry.first, "collateral-prefetch", values_of(entry.second, key));
      } else if (key == "refresh_interval") {
        emit_global(entry.first, "collateral-refresh-interval", {seconds_text(entry.second, key)});
      } else if (key == "files") {
        emit_global(entry.first, "collateral", values_of(entry.second, key));
      } else {
        fail_at(entry.first, "unknown key 'attestation.tdx_collateral." + key + "'");
      }
    }
  }

  // SEV-SNP VCEKs and CRLs from AMD KDS (docs/operations.md "Collateral and certificates").
  void snp_certificates(const YAML::Node& node) {
    require_map(node, "attestation.snp_certificates");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "kds_url") {
        emit_global(entry.first, "kds-url", {scalar(entry.second, key)});
      } else if (key == "cache_dir") {
        emit_global(entry.first, "kds-cache-dir", {scalar(entry.second, key)});
      } else if (key == "crls") {
        emit_global(entry.first, "kds-crls", values_of(entry.second, key));
      } else if (key == "crl_refresh_interval") {
        emit_global(entry.first, "kds-crl-refresh-interval", {seconds_text(entry.second, key)});
      } else {
        fail_at(entry.first, "unknown key 'attestation.snp_certificates." + key + "'");
      }
    }
  }

  void logging_section(const YAML::Node& node) {
    require_map(node, "logging");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "level") {
        const std::string level = scalar(entry.second, key);
        if (level == "debug") {
          emit_global(entry.first, "log-debug", {"true"});
        } else if (level != "info") {
          fail_at(entry.first, "logging.level must be info or debug, not '" + level + "'");
        }
      } else if (key == "format") {
        const std::string format = scalar(entry.second, key);
        if (format == "json") {
          emit_global(entry.first, "log-json", {"true"});
        } else if (format != "text") {
          fail_at(entry.first, "logging.format must be text or json, not '" + format + "'");
        }
      } else if (key == "audit_file") {
        emit_global(entry.first, "audit-log", {scalar(entry.second, key)});
      } else if (key == "audit_fsync") {
        emit_global(entry.first, "audit-fsync", {scalar(entry.second, key)});
      } else {
        fail_at(entry.first, "unknown key 'logging." + key + "'");
      }
    }
  }

  // The design document's token settings (docs/token-service.md): `sts_url` is the token
  // endpoint, which get-token calls and which token-service serves as <issuer>/token;
  // `token_ttl` is token-service's --token-ttl; tokens are always DPoP-bound.
  void tokens_section(const YAML::Node& node) {
    require_map(node, "tokens");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "sts_url") {
        const std::string url = scalar(entry.second, key);
        if (subcommand_ == "token-service") {
          constexpr std::string_view kSuffix = "/token";
          if (url.size() <= kSuffix.size() ||
              url.compare(url.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
            fail_at(entry.first, "tokens.sts_url must end in /token (it is <issuer>/token)");
          }
          emit_sub(entry.first, "tokens.sts_url", "issuer",
                   {url.substr(0, url.size() - kSuffix.size())});
        } else {
          emit_sub(entry.first, "tokens.sts_url", "token_endpoint", {url});
        }
      } else if (key == "token_ttl") {
        emit_sub(entry.first, "tokens.token_ttl", "token-ttl", {seconds_text(entry.second, key)});
      } else if (key == "dpop_enabled") {
        if (!truthy(entry.second, key)) {
          fail_at(entry.first,
                  "tokens.dpop_enabled cannot be false: tokens are always bound to the "
                  "workload's attested DPoP key (a bearer token could be replayed by anyone "
                  "who sees it)");
        }
      } else {
        fail_at(entry.first, "unknown key 'tokens." + key + "'");
      }
    }
  }

  void policy_section(const YAML::Node& node) {
    require_map(node, "policy");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "require_fresh_attestation") {
        if (!truthy(entry.second, key)) {
          fail_at(entry.first,
                  "policy.require_fresh_attestation cannot be false: every channel "
                  "is attested when it is established");
        }
      } else if (key == "max_attestation_age") {
        emit_global(entry.first, "max-attestation-age", {seconds_text(entry.second, key)});
      } else {
        fail_at(entry.first, "unknown key 'policy." + key + "'");
      }
    }
  }

  void admin_section(const YAML::Node& node) {
    require_map(node, "admin");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key");
      if (key == "listen") {
        emit_global(entry.first, "admin-listen-addr", {scalar(entry.second, key)});
      } else if (key == "drain_timeout") {
        emit_global(entry.first, "drain-timeout", {seconds_text(entry.second, key)});
      } else {
        fail_at(entry.first, "unknown key 'admin." + key + "'");
      }
    }
  }

  const CLI::App& app_;
  std::string subcommand_;
  const CLI::App* sub_ = nullptr;
  std::vector<CLI::ConfigItem> items_;
};

}  // namespace

std::optional<double> parse_duration_seconds(const std::string& text) {
  std::size_t consumed = 0;
  double value = 0;
  try {
    value = std::stod(text, &consumed);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(consumed);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "ms") {
    scale = 0.001;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    return std::nullopt;
  }
  if (!(value >= 0) || value > 1e9) {
    return std::nullopt;
  }
  return value * scale;
}

std::string YamlConfig::to_config(const CLI::App*, bool, bool, std::string) const {
  return "# writing configuration files is not supported; see docs/configuration.md\n";
}

std::vector<CLI::ConfigItem> YamlConfig::translate(const std::string& text,
                                                   const std::string& subcommand) const {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw CLI::ConfigError(fmt::format("config line {}: {}", e.mark.line + 1, e.msg));
  }
  std::string sub = subcommand;
  if (sub.empty()) {
    const auto parsed = app_->get_subcommands();
    if (!parsed.empty()) {
      sub = parsed.front()->get_name();
    }
  }
  try {
    return Translator(*app_, sub).run(root);
  } catch (const YAML::Exception& e) {
    throw CLI::ConfigError(fmt::format("config line {}: {}", e.mark.line + 1, e.msg));
  }
}

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  std::stringstream text;
  text << input.rdbuf();
  return translate(text.str(), {});
}

std::optional<std::string> config_mode(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsMap() && root["mode"] && root["mode"].IsScalar()) {
      return root["mode"].Scalar();
    }
  } catch (const YAML::Exception&) {
  }
  return std::nullopt;
}

}  // namespace atls::cli

namespace atls::cli {

void add_config_command(CLI::App& app, GlobalOptions& /*global*/, std::function<int()>& action) {
  struct Options {
    std::string file;
    std::string mode;
  };
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand("config", "Configuration file tools");
  auto* check = command->add_subcommand(
      "check",
      "Check a YAML configuration file: every key known and applicable, every value "
      "well-formed (exit 2 with the line of the first problem)");
  check->add_option("file", options->file, "YAML configuration file")->required();
  check->add_option("--mode", options->mode,
                    "Subcommand the file configures (default: the file's `mode` key)");
  command->require_subcommand(1);
  check->callback([&app, &action, options] {
    action = [&app, options] {
      std::ifstream in(options->file);
      if (!in) {
        spdlog::error("config check: cannot read {}", options->file);
        return static_cast<int>(kExitUsage);
      }
      std::stringstream text;
      text << in.rdbuf();
      std::string mode = options->mode;
      if (mode.empty()) {
        mode = config_mode(options->file).value_or("");
      }
      try {
        YamlConfig reader(&app);
        const auto items = reader.translate(text.str(), mode);
        std::printf("config OK: %zu settings%s\n", items.size(),
                    mode.empty() ? "" : (" for " + mode).c_str());
        for (const auto& item : items) {
          std::printf("  %s = %s\n", item.fullname().c_str(),
                      CLI::detail::join(item.inputs, ",").c_str());
        }
        return static_cast<int>(kExitOk);
      } catch (const CLI::Error& e) {
        spdlog::error("config check {}: {}", options->file, e.what());
        return static_cast<int>(kExitUsage);
      }
    };
  });
}

}  // namespace atls::cli
