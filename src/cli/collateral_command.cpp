// `atls-proxy collateral fetch|show`: operator access to the Intel TDX DCAP collateral cache
// (attest/collateral/tdx_pcs.h), the same files the proxy's collateral service reads at start-up.
//
//   atls-proxy collateral fetch (--fmspc HEX [--ca platform|processor] | --quote FILE)
//       [--pccs-url URL] [--cache-dir DIR] [--timeout SECONDS] [--json]
//   atls-proxy collateral show [--cache-dir DIR] [--json]
//
// fetch downloads one bundle from Intel PCS (default) or the PCCS of --pccs-url, vets it like a
// verification would (chains to the pinned Intel root, signatures, CRLs, freshness) and stores
// it; exit 0 when stored, 3 when the service could not be reached, failed, refused or has no
// such document, 4 when the documents failed vetting, 2 for usage errors. show lists the cached
// bundles with their dates, age, time to expiry and whether they still verify now (exit 0; 2 if the
// directory cannot be read). With --insecure-trust-mock-tee DIR both trust only the mock root of
// DIR (tests).
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "attest/collateral/tdx_pcs.h"
#include "attest/mock/tdx_mock.h"
#include "attest/tdx/pcs.h"
#include "cli/commands.h"
#include "core/time.h"

namespace atls::cli {
namespace {

namespace collateral = attest::collateral;
namespace tdx = attest::tdx;
using nlohmann::json;

struct CollateralOptions {
  std::optional<std::string> fmspc;
  std::string ca = "platform";
  std::optional<std::string> quote;
  std::optional<std::string> cache_dir;
  double timeout_seconds = 60;
  bool json_output = false;
};

Outcome<std::filesystem::path> cache_directory(const CollateralOptions& options) {
  if (options.cache_dir) {
    return std::filesystem::path(*options.cache_dir);
  }
  auto directory = collateral::default_cache_directory();
  if (directory.empty()) {
    return Failure{
        make_error_code(collateral::Errc::InvalidOptions),
        "--cache-dir is required (no ATLS_COLLATERAL_CACHE_DIR, XDG_CACHE_HOME or HOME)"};
  }
  return directory;
}

/// The pinned Intel root, or — with --insecure-trust-mock-tee — only the mock TEE's root.
Outcome<tdx::TrustAnchorsPtr> trust_anchors(const GlobalOptions& global) {
  if (global.insecure_trust_mock_tee) {
    spdlog::warn(
        "INSECURE: --insecure-trust-mock-tee: collateral is vetted against the MOCK "
        "TDX root in {} only",
        *global.insecure_trust_mock_tee);
    auto mock = attest::mock::load_mock_tdx_verifier(*global.insecure_trust_mock_tee);
    if (!mock) {
      return mock.error();
    }
    return mock->anchors;
  }
  auto production = tdx::TrustAnchors::intel_production();
  if (!production) {
    return production.error();
  }
  return *production;
}

std::string duration_text(std::chrono::seconds value) {
  const bool negative = value.count() < 0;
  auto left = negative ? -value.count() : value.count();
  const auto days = left / 86400;
  left %= 86400;
  const auto hours = left / 3600;
  left %= 3600;
  const auto minutes = left / 60;
  std::string out;
  if (days > 0) {
    out += std::to_string(days) + "d ";
  }
  if (days > 0 || hours > 0) {
    out += std::to_string(hours) + "h ";
  }
  out += std::to_string(minutes) + "m";
  return negative ? "-" + out : out;
}

std::chrono::seconds seconds_between(SystemTime from, SystemTime to) {
  return std::chrono::duration_cast<std::chrono::seconds>(to - from);
}

bool is_vetting_failure(const ErrorCode& code) {
  using collateral::Errc;
  return code == make_error_code(Errc::ValidationFailed) ||
         code == make_error_code(Errc::Regression) ||
         code == make_error_code(Errc::InvalidResponse);
}

int run_fetch(const GlobalOptions& global, const CollateralOptions& options) {
  auto directory = cache_directory(options);
  if (!directory) {
    spdlog::error("{}", directory.error().describe());
    return kExitUsage;
  }
  auto anchors = trust_anchors(global);
  if (!anchors) {
    spdlog::error("{}", anchors.error().describe());
    return kExitUsage;
  }
  tdx::Fmspc fmspc{};
  tdx::PckCaType ca = tdx::PckCaType::Platform;
  if (options.quote) {
    std::ifstream in(*options.quote, std::ios::binary);
    if (!in) {
      spdlog::error("--quote: cannot read {}", *options.quote);
      return kExitUsage;
    }
    const Bytes content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const tdx::QuoteVerifier parser(*anchors);
    auto prepared = parser.prepare(decode_evidence_text(content));
    if (!prepared) {
      spdlog::error("--quote {}: {}", *options.quote, prepared.error().describe());
      return kExitUsage;
    }
    fmspc = prepared->fmspc();
    ca = prepared->ca_type();
  } else {
    const auto parsed_fmspc = tdx::parse_fmspc(options.fmspc.value_or(""));
    const auto parsed_ca = tdx::parse_pck_ca_type(options.ca);
    if (!parsed_fmspc || !parsed_ca) {
      spdlog::error("--fmspc needs 12 hex digits and --ca platform or processor");
      return kExitUsage;
    }
    fmspc = *parsed_fmspc;
    ca = *parsed_ca;
  }
  const auto timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::max(options.timeout_seconds, 0.0) * 1000));
  collateral::TdxCollateralServiceOptions service_options;
  service_options.pccs_url = global.pccs_url.value_or("");
  service_options.cache.directory = *directory;
  service_options.trust_anchors = *anchors;
  // The fetch runs on this thread (no executor), so the per-request timeout is what bounds it.
  service_options.http.timeout = timeout;
  auto service = collateral::TdxCollateralService::create(std::move(service_options));
  if (!service) {
    spdlog::error("{}", service.error().describe());
    return kExitUsage;
  }
  const std::string key = collateral::tdx_cache_key(fmspc, ca);
  auto fetched = (*service)->prefetch(fmspc, ca, timeout);
  json out{{"key", key},
           {"fmspc", to_hex(fmspc)},
           {"ca", std::string(tdx::to_string(ca))},
           {"base_url", (*service)->base_url()},
           {"stored", false}};
  if (!fetched) {
    out["error"] = error_id(fetched.error().code);
    out["detail"] = fetched.error().describe();
  } else {
    const auto path = collateral::cache_file_path(*directory, key);
    out["path"] = path.string();
    for (const auto& entry : (*service)->entries()) {
      if (entry.key == key) {
        out["stored"] = !entry.persist_error.has_value();
        if (entry.persist_error) {
          out["error"] = error_id(entry.persist_error->code);
          out["detail"] = entry.persist_error->describe();
        }
        out["fetched_at"] = format_rfc3339(entry.fetched_at);
        out["dates"] = entry.details;
      }
    }
  }
  if (options.json_output) {
    std::cout << out.dump(2) << "\n";
  } else if (out["stored"].get<bool>()) {
    std::cout << "stored " << key << " in " << out["path"].get<std::string>() << "\n"
              << "  from " << (*service)->base_url() << "\n"
              << "  expires " << out["dates"].value("expires_at", std::string("?")) << "\n";
  } else {
    std::cout << "not stored: " << out.value("detail", std::string("?")) << "\n";
  }
  if (out["stored"].get<bool>()) {
    return kExitOk;
  }
  if (!fetched && is_vetting_failure(fetched.error().code)) {
    return kExitAttestation;
  }
  return fetched ? kExitUsage : kExitConnection;
}

int run_show(const GlobalOptions& global, const CollateralOptions& options) {
  auto directory = cache_directory(options);
  if (!directory) {
    spdlog::error("{}", directory.error().describe());
    return kExitUsage;
  }
  auto anchors = trust_anchors(global);
  if (!anchors) {
    spdlog::error("{}", anchors.error().describe());
    return kExitUsage;
  }
  const tdx::QuoteVerifier verifier(*anchors);
  const SystemTime now = SystemClock().now();
  const auto files = collateral::read_tdx_cache_directory(*directory, verifier, now);
  json list = json::array();
  for (const auto& file : files) {
    json entry{{"key", file.key}, {"path", file.path.string()}};
    if (file.fetched_at) {
      entry["fetched_at"] = format_rfc3339(*file.fetched_at);
      entry["age_seconds"] = seconds_between(*file.fetched_at, now).count();
    }
    if (file.dates) {
      entry["dates"] = collateral::tdx_dates_json(*file.dates);
      entry["expires_at"] = format_rfc3339(file.dates->expires_at);
      entry["time_to_expiry_seconds"] = seconds_between(now, file.dates->expires_at).count();
    }
    entry["valid"] = !file.error.has_value();
    if (file.error) {
      entry["error"] = error_id(file.error->code);
      entry["detail"] = file.error->describe();
    }
    list.push_back(std::move(entry));
  }
  if (files.size() == 1 && files.front().key.empty() && files.front().error) {
    spdlog::error("{}", files.front().error->describe());
    return kExitUsage;
  }
  if (options.json_output) {
    std::cout << json{{"directory", directory->string()},
                      {"now", format_rfc3339(now)},
                      {"entries", list}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "collateral cache " << directory->string() << " (" << files.size()
            << " TDX bundle(s)) at " << format_rfc3339(now) << "\n";
  for (const auto& file : files) {
    std::cout << "\n" << file.key << "\n";
    if (file.fetched_at) {
      std::cout << "  fetched       " << format_rfc3339(*file.fetched_at) << " (age "
                << duration_text(seconds_between(*file.fetched_at, now)) << ")\n";
    }
    if (file.dates) {
      const auto& d = *file.dates;
      const auto to_expiry = seconds_between(now, d.expires_at);
      std::cout << "  expires       " << format_rfc3339(d.expires_at)
                << (to_expiry.count() > 0 ? " (in " + duration_text(to_expiry) + ")" : " (EXPIRED)")
                << "\n"
                << "  TCB info      issued " << format_rfc3339(d.tcb_info_issue_date)
                << ", next update " << format_rfc3339(d.tcb_info_next_update) << ", evaluation "
                << d.tcb_evaluation_data_number << "\n"
                << "  QE identity   issued " << format_rfc3339(d.qe_identity_issue_date)
                << ", next update " << format_rfc3339(d.qe_identity_next_update) << "\n"
                << "  PCK CRL       this update " << format_rfc3339(d.pck_crl_this_update)
                << ", next update " << format_rfc3339(d.pck_crl_next_update) << "\n"
                << "  root CA CRL   this update " << format_rfc3339(d.root_ca_crl_this_update)
                << ", next update " << format_rfc3339(d.root_ca_crl_next_update) << "\n"
                << "  certificates  earliest notAfter " << format_rfc3339(d.certificates_not_after)
                << "\n";
    }
    std::cout << "  status        " << (file.error ? file.error->describe() : "valid") << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_collateral_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<CollateralOptions>();
  auto* command = app.add_subcommand(
      "collateral", "Intel TDX DCAP collateral cache: fetch from PCS/PCCS, show what is cached");
  command->require_subcommand(1);
  auto* fetch = command->add_subcommand(
      "fetch", "Fetch, vet and store the collateral of one platform (FMSPC + PCK CA)");
  auto* fmspc = fetch->add_option("--fmspc", options->fmspc, "FMSPC, 12 hex digits");
  fetch->add_option("--ca", options->ca, "PCK CA: platform or processor")
      ->check(CLI::IsMember({"platform", "processor"}))
      ->capture_default_str();
  auto* quote = fetch->add_option("--quote", options->quote,
                                  "Take FMSPC and CA from this TDX quote (raw, hex or base64)");
  fmspc->excludes(quote);
  fetch->add_option("--timeout", options->timeout_seconds, "Seconds allowed for each request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* show = command->add_subcommand("show", "List the cached collateral bundles");
  for (auto* sub : {fetch, show}) {
    sub->add_option("--cache-dir", options->cache_dir,
                    "Cache directory (default: $ATLS_COLLATERAL_CACHE_DIR, else "
                    "$XDG_CACHE_HOME or ~/.cache /atls-proxy/collateral)");
    sub->add_flag("--json", options->json_output, "Print JSON");
  }
  fetch->callback([&global, &action, options, fmspc, quote] {
    action = [&global, options, fmspc, quote] {
      if (fmspc->count() == 0 && quote->count() == 0) {
        spdlog::error("collateral fetch needs --fmspc or --quote");
        return static_cast<int>(kExitUsage);
      }
      return run_fetch(global, *options);
    };
  });
  show->callback([&global, &action, options] {
    action = [&global, options] { return run_show(global, *options); };
  });
}

}  // namespace atls::cli
