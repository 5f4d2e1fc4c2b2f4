#include "cli/verification_sources.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <thread>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "attest/errors.h"
#include "attest/mock/mock_tee.h"
#include "attest/mock/snp_mock.h"
#include "attest/mock/tdx_mock.h"
#include "attest/snp/amd_certificate.h"
#include "attest/snp/crl.h"
#include "attest/snp/errors.h"
#include "attest/snp/snp_verifier.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/tdx_verifier.h"
#include "cli/common.h"
#include "tls/credentials.h"

namespace atls::cli {
namespace {

namespace collateral = attest::collateral;
namespace snp = attest::snp;
namespace tdx = attest::tdx;
namespace fs = std::filesystem;

Failure usage(std::string detail) {
  return Failure{make_error_code(collateral::Errc::InvalidOptions), std::move(detail)};
}

/// The cache and upstream policy for one refresh interval. The defaults (24 h) are the
/// collateral service's; a shorter interval also bounds the retry backoff, the breaker's
/// cool-down and the reuse of identical answers, so that nothing waits longer than the interval
/// the operator asked for.
collateral::CacheOptions cache_options(const GlobalOptions& global, fs::path directory) {
  collateral::CacheOptions options;
  options.directory = std::move(directory);
  const auto interval = std::chrono::seconds(
      std::max<long long>(1, static_cast<long long>(global.collateral_refresh_interval_seconds)));
  options.max_age = interval;
  options.initial_backoff = std::min(options.initial_backoff, interval);
  options.max_backoff = std::min(options.max_backoff, std::max(interval, options.initial_backoff));
  options.upstream.breaker.cool_down = std::min(options.upstream.breaker.cool_down, interval);
  options.upstream.reuse_window = std::min(options.upstream.reuse_window, interval / 2);
  return options;
}

/// Only the mock TDX root of --insecure-trust-mock-tee DIR.
Outcome<tdx::TrustAnchorsPtr> mock_tdx_anchors(const fs::path& directory) {
  if (!fs::exists(directory / "tdx-root.crt")) {
    return usage("--insecure-trust-mock-tee: no mock TDX root in " + directory.string() +
                 " (create it with: atls-proxy mock-tee init DIR)");
  }
  auto mock = attest::mock::load_mock_tdx_verifier(directory);
  if (!mock) {
    return mock.error();
  }
  return mock->anchors;
}

/// The mock ARK of --insecure-trust-mock-tee DIR (DER), if the directory has one.
Outcome<std::optional<Bytes>> mock_snp_ark(const fs::path& directory) {
  if (!fs::exists(directory / "snp-ark.crt")) {
    return std::optional<Bytes>();
  }
  auto ark = tls::load_certificates(directory / "snp-ark.crt");
  if (!ark) {
    return ark.error();
  }
  if (ark->size() != 1) {
    return Failure{make_error_code(snp::Errc::TrustAnchorInvalid),
                   (directory / "snp-ark.crt").string() + ": not one certificate"};
  }
  return std::optional<Bytes>(snp::certificate_der(ark->front().get()));
}

/// The mock trust anchors for fetched CRLs (--insecure-trust-mock-tee with --kds-crls): the
/// fetcher then accepts exactly the CRLs the mock SNP verifier would apply.
Outcome<std::shared_ptr<const snp::TrustAnchors>> mock_crl_anchors(const fs::path& directory) {
  auto ark = mock_snp_ark(directory);
  if (!ark) {
    return ark.error();
  }
  if (!*ark) {
    return usage("--kds-crls with --insecure-trust-mock-tee: no mock SEV-SNP ARK in " +
                 directory.string() + " (create it with: atls-proxy mock-tee init DIR)");
  }
  return snp::TrustAnchors::insecure_for_testing(**ark, {}, {});
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

double breaker_value(bool closed, bool half_open) {
  if (closed) {
    return 0;
  }
  return half_open ? 1 : 2;
}

}  // namespace

std::optional<std::pair<tdx::Fmspc, tdx::PckCaType>> parse_collateral_prefetch(
    std::string_view text) {
  std::string_view fmspc_text = text;
  std::string_view ca_text = "platform";
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    fmspc_text = text.substr(0, colon);
    ca_text = text.substr(colon + 1);
  }
  const auto fmspc = tdx::parse_fmspc(fmspc_text);
  const auto ca = tdx::parse_pck_ca_type(ca_text);
  if (!fmspc || !ca) {
    return std::nullopt;
  }
  return std::make_pair(*fmspc, *ca);
}

std::optional<std::vector<snp::Product>> parse_kds_crl_products(
    const std::vector<std::string>& values) {
  static constexpr snp::Product kAll[] = {snp::Product::Milan, snp::Product::Genoa,
                                          snp::Product::Turin};
  std::set<snp::Product> products;
  for (const auto& value : values) {
    const std::string name = lowercase(value);
    if (name == "all") {
      products.insert(std::begin(kAll), std::end(kAll));
      continue;
    }
    bool known = false;
    for (const snp::Product product : kAll) {
      if (name == lowercase(snp::to_string(product))) {
        products.insert(product);
        known = true;
      }
    }
    if (!known) {
      return std::nullopt;
    }
  }
  if (products.empty()) {
    return std::nullopt;
  }
  return std::vector<snp::Product>(products.begin(), products.end());
}

Outcome<std::shared_ptr<VerificationSources>> VerificationSources::create(
    const GlobalOptions& global) {
  auto sources = std::make_shared<VerificationSources>();
  const bool mock = global.insecure_trust_mock_tee.has_value();
  const fs::path default_directory = collateral::default_cache_directory();

  for (const auto& text : global.collateral_prefetch) {
    auto key = parse_collateral_prefetch(text);
    if (!key) {
      return usage(
          "--collateral-prefetch: expected FMSPC (12 hex digits), optionally followed "
          "by :platform or :processor, not '" +
          text + "'");
    }
    sources->prefetch_.push_back(*key);
  }
  const bool tdx_online = global.pccs_url || global.collateral_cache_dir;
  if (!tdx_online && !sources->prefetch_.empty()) {
    return usage(
        "--collateral-prefetch needs the collateral service (--pccs-url or "
        "--collateral-cache-dir)");
  }

  if (tdx_online) {
    fs::path directory =
        global.collateral_cache_dir ? fs::path(*global.collateral_cache_dir) : default_directory;
    if (directory.empty()) {
      return usage(
          "--pccs-url: no cache directory (give --collateral-cache-dir; no "
          "ATLS_COLLATERAL_CACHE_DIR, XDG_CACHE_HOME or HOME is set)");
    }
    collateral::TdxCollateralServiceOptions options;
    options.pccs_url = global.pccs_url.value_or("");
    options.cache = cache_options(global, directory);
    if (mock) {
      auto anchors = mock_tdx_anchors(*global.insecure_trust_mock_tee);
      if (!anchors) {
        return anchors.error();
      }
      spdlog::warn(
          "INSECURE: --insecure-trust-mock-tee: fetched TDX collateral is vetted against the "
          "MOCK root in {} only",
          *global.insecure_trust_mock_tee);
      options.trust_anchors = *anchors;
    }
    auto service = collateral::TdxCollateralService::create(std::move(options));
    if (!service) {
      Failure failure = service.error();
      failure.detail = "--pccs-url / --collateral-cache-dir: " + failure.detail;
      return failure;
    }
    std::size_t restored = 0;
    for (const auto& entry : (*service)->entries()) {
      if (entry.has_value && !entry.expired) {
        ++restored;
      }
    }
    spdlog::info(
        "TDX collateral service: {} (cache {}, {} bundle(s) restored, refresh at least every "
        "{} s). A peer whose platform collateral is not cached is refused with "
        "tdx.collateral_unavailable while it is fetched in the background; the handshake may "
        "be retried",
        (*service)->base_url(), directory.string(), restored,
        static_cast<long long>(global.collateral_refresh_interval_seconds));
    sources->tdx_service_ = std::move(*service);
  }

  const bool kds_online = global.kds_url || global.kds_cache_dir;
  if (!global.kds_crls.empty()) {
    auto products = parse_kds_crl_products(global.kds_crls);
    if (!products) {
      return usage("--kds-crls: expected Milan, Genoa, Turin (comma-separated) or all");
    }
    if (!kds_online) {
      return usage("--kds-crls needs the KDS fetcher (--kds-url or --kds-cache-dir)");
    }
    sources->crl_products_ = std::move(*products);
  }

  if (kds_online) {
    snp::CertificateCacheOptions kds_cache;
    if (global.kds_cache_dir) {
      kds_cache.directory = *global.kds_cache_dir;
    } else if (!default_directory.empty()) {
      kds_cache.directory = default_directory / "kds";
    } else {
      spdlog::warn(
          "--kds-url: no cache directory (no --kds-cache-dir, ATLS_COLLATERAL_CACHE_DIR, "
          "XDG_CACHE_HOME or HOME): VCEKs are cached in memory only");
    }
    auto cache = snp::CertificateCache::open(kds_cache);
    if (!cache) {
      Failure failure = cache.error();
      failure.detail = "--kds-cache-dir: " + failure.detail;
      return failure;
    }
    snp::KdsFetcherOptions fetcher_options;
    if (global.kds_url) {
      fetcher_options.base_url = *global.kds_url;
    }
    fetcher_options.fetch_on_miss = true;
    // --kds-crls: the worker fetches both CRLs of each product at once and keeps them fresh.
    fetcher_options.crl_products = sources->crl_products_;
    fetcher_options.crl_refresh_interval = std::chrono::seconds(
        std::max<long long>(1, static_cast<long long>(global.kds_crl_refresh_interval_seconds)));
    if (mock && !sources->crl_products_.empty()) {
      auto anchors = mock_crl_anchors(*global.insecure_trust_mock_tee);
      if (!anchors) {
        return anchors.error();
      }
      spdlog::warn(
          "INSECURE: --insecure-trust-mock-tee: fetched AMD CRLs are vetted against the MOCK "
          "ARK in {} only",
          *global.insecure_trust_mock_tee);
      fetcher_options.crl_anchors = std::move(*anchors);
    }
    auto fetcher = snp::KdsFetcher::create(fetcher_options, *cache);
    if (!fetcher) {
      Failure failure = fetcher.error();
      failure.detail = "--kds-url: " + failure.detail;
      return failure;
    }
    const auto stats = (*cache)->stats();
    spdlog::info(
        "SEV-SNP certificates: AMD KDS {} (cache {}, {} VCEK(s), {} CRL(s) restored). Evidence "
        "without its VCEK is refused with snp.certificate_missing while the VCEK is fetched in "
        "the background; the handshake may be retried",
        fetcher_options.base_url,
        kds_cache.directory.empty() ? std::string("in memory") : kds_cache.directory.string(),
        stats.vceks, (*cache)->crls().size());
    if (sources->crl_products_.empty()) {
      spdlog::info("SEV-SNP revocation: not checked (no --kds-crls); cached CRLs are not applied");
    } else {
      std::string names;
      for (const auto product : sources->crl_products_) {
        names += (names.empty() ? "" : ", ") + std::string(snp::to_string(product));
      }
      spdlog::info(
          "SEV-SNP revocation: AMD CRLs of {} (VCEK and VLEK) required, refreshed at least every "
          "{} s; a chain of these products without a current CRL is refused (snp.crl_missing, "
          "snp.crl_expired)",
          names, fetcher_options.crl_refresh_interval.count());
    }
    sources->snp_cache_ = std::move(*cache);
    sources->kds_ = std::move(*fetcher);
  }
  return sources;
}

VerificationSources::~VerificationSources() {
  stop();
}

void VerificationSources::start(std::chrono::milliseconds warm_up_timeout) {
  if (started_) {
    return;
  }
  started_ = true;
  start_tdx(warm_up_timeout);
  if (!kds_ || crl_products_.empty()) {
    return;
  }
  spdlog::info("fetching AMD CRLs (--kds-crls, up to {} ms)", warm_up_timeout.count());
  auto warmed = kds_->warm_up_crls(warm_up_timeout);
  if (!warmed) {
    spdlog::warn(
        "AMD CRL warm-up incomplete, continuing: {} (SEV-SNP peers of these products are "
        "refused until a background fetch succeeds)",
        warmed.error().describe());
  } else {
    spdlog::info("AMD CRL warm-up done");
  }
}

void VerificationSources::start_tdx(std::chrono::milliseconds warm_up_timeout) {
  if (!tdx_service_) {
    return;
  }
  const auto interval = tdx_service_->cache().options().max_age;
  tdx_service_->start(std::min<std::chrono::milliseconds>(std::chrono::seconds(5), interval));
  if (prefetch_.empty()) {
    return;
  }
  spdlog::info("fetching TDX collateral for {} platform(s) (--collateral-prefetch, up to {} ms)",
               prefetch_.size(), warm_up_timeout.count());
  auto warmed = tdx_service_->warm_up(prefetch_, warm_up_timeout);
  if (!warmed) {
    spdlog::warn(
        "TDX collateral warm-up incomplete, continuing: {} (peers of these platforms are "
        "refused until a background fetch succeeds)",
        warmed.error().describe());
  } else {
    spdlog::info("TDX collateral warm-up done");
  }
}

void VerificationSources::stop() {
  if (tdx_service_) {
    tdx_service_->stop();
  }
  // The KDS worker is joined when the fetcher is destroyed, with these sources.
}

Outcome<std::vector<attest::VerifierPtr>> VerificationSources::make_verifiers(
    const GlobalOptions& global) const {
  auto files = load_collateral_files(global.collateral_files);
  if (!files) {
    return files.error();
  }
  std::vector<attest::VerifierPtr> verifiers;
  if (global.insecure_trust_mock_tee) {
    spdlog::warn(
        "INSECURE: --insecure-trust-mock-tee: peers are verified against the MOCK TEE "
        "roots in {} only; genuine TEE evidence is NOT accepted and mock evidence proves "
        "nothing. For tests and demos only.",
        *global.insecure_trust_mock_tee);
    const fs::path directory = *global.insecure_trust_mock_tee;
    if (!online()) {
      // As without the services: the mock directory's own collateral.
      return attest::mock::make_mock_verifiers(directory);
    }
    auto ark = mock_snp_ark(directory);
    if (!ark) {
      return ark.error();
    }
    if (*ark) {
      snp::SnpVerifierOptions options;
      options.trust_insecure_test_anchors_for_testing = snp::InsecureTestAnchors{**ark, {}, {}};
      options.crl_source = snp_cache_;
      options.crl_products = crl_products_;
      verifiers.push_back(std::make_shared<snp::SnpVerifier>(snp_cache_, std::move(options)));
    }
    if (fs::exists(directory / "tdx-root.crt")) {
      auto mock = attest::mock::load_mock_tdx_verifier(directory);
      if (!mock) {
        return mock.error();
      }
      if (tdx_service_) {
        // Collateral from the --collateral files and the service only: the directory's own
        // collateral file is NOT used, so that the service path is what gets exercised.
        tdx::TdxVerifierOptions options;
        options.trust_anchors = mock->anchors;
        verifiers.push_back(std::make_shared<tdx::TdxVerifier>(
            std::make_shared<tdx::ChainedCollateralSource>(
                std::vector<tdx::CollateralSourcePtr>{*files, tdx_service_}),
            options));
      } else {
        verifiers.push_back(std::move(mock->verifier));
      }
    }
    if (verifiers.empty()) {
      return Failure{make_error_code(attest::Errc::GenerationUnavailable),
                     "no mock TEE roots in " + directory.string() +
                         " (create them with: atls-proxy mock-tee init DIR)"};
    }
    return verifiers;
  }
  // Production: Intel's and AMD's pinned roots.
  tdx::CollateralSourcePtr tdx_source = *files;
  if (tdx_service_) {
    tdx_source = std::make_shared<tdx::ChainedCollateralSource>(
        std::vector<tdx::CollateralSourcePtr>{*files, tdx_service_});
  }
  verifiers.push_back(std::make_shared<tdx::TdxVerifier>(std::move(tdx_source)));
  snp::SnpVerifierOptions snp_options;
  // --kds-crls: the cache's CRLs of those products, re-read by the verifier whenever the KDS
  // worker stores a new one (no reload needed); other products are not revocation-checked.
  snp_options.crl_source = snp_cache_;
  snp_options.crl_products = crl_products_;
  verifiers.push_back(std::make_shared<snp::SnpVerifier>(snp_cache_, std::move(snp_options)));
  return verifiers;
}

bool VerificationSources::is_transient(const ErrorCode& code) const {
  return (tdx_service_ && code == make_error_code(tdx::Errc::CollateralUnavailable)) ||
         (snp_cache_ && code == make_error_code(snp::Errc::CertificateMissing)) ||
         (kds_ && !crl_products_.empty() &&
          (code == make_error_code(snp::Errc::CrlMissing) ||
           code == make_error_code(snp::Errc::CrlExpired)));
}

std::vector<snp::KdsCrlStatus> VerificationSources::snp_crl_state() const {
  if (!kds_) {
    return {};
  }
  return kds_->crl_status();
}

bool VerificationSources::wait_for_fetches(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool idle = true;
    if (tdx_service_) {
      for (const auto& entry : tdx_service_->entries()) {
        // In flight, or asked for and not yet picked up by the refresh thread.
        if (entry.in_flight || (!entry.has_value && entry.attempts == 0)) {
          idle = false;
        }
      }
    }
    if (kds_ && !kds_->wait_idle(std::chrono::milliseconds(0))) {
      idle = false;
    }
    if (idle) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

ops::ReadinessCheck VerificationSources::collateral_readiness() const {
  std::vector<std::string> problems;
  std::vector<std::string> fresh;
  if (tdx_service_ && !prefetch_.empty()) {
    const auto entries = tdx_service_->entries();
    for (const auto& [fmspc, ca] : prefetch_) {
      const std::string key = collateral::tdx_cache_key(fmspc, ca);
      const auto entry =
          std::find_if(entries.begin(), entries.end(),
                       [&key](const auto& candidate) { return candidate.key == key; });
      if (entry == entries.end() || !entry->has_value) {
        std::string problem = "TDX collateral " + key + ": not fetched";
        if (entry != entries.end() && entry->last_error) {
          problem += " (" + entry->last_error->describe() + ")";
        }
        problems.push_back(std::move(problem));
      } else if (entry->expired) {
        problems.push_back("TDX collateral " + key + ": expired");
      }
    }
    fresh.push_back(fmt::format("TDX collateral for {} platform(s)", prefetch_.size()));
  }
  // --kds-crls: the verifiers refuse every chain of a listed product while its CRL is missing
  // (snp.crl_missing) or past nextUpdate (snp.crl_expired).
  const auto crls = snp_crl_state();
  const SystemTime now = std::chrono::system_clock::now();
  for (const auto& crl : crls) {
    const std::string name = fmt::format("AMD CRL {}/{}", snp::to_string(crl.product),
                                         crl.kind == snp::Signer::Vcek ? "vcek" : "vlek");
    if (!crl.present) {
      std::string problem = name + ": not fetched";
      if (crl.last_error) {
        problem += " (" + crl.last_error->describe() + ")";
      }
      problems.push_back(std::move(problem));
    } else if (crl.next_update && *crl.next_update <= now) {
      problems.push_back(name + ": expired");
    }
  }
  if (!crls.empty()) {
    fresh.push_back(fmt::format("{} AMD CRL(s)", crls.size()));
  }
  if (!problems.empty()) {
    return {false, fmt::format("missing or expired: {}", fmt::join(problems, "; "))};
  }
  if (fresh.empty()) {
    // Which platforms peers come from is not known in advance: nothing to require.
    return {true, online() ? "no --collateral-prefetch platforms or --kds-crls to keep fresh"
                           : "offline (no collateral service)"};
  }
  return {true, fmt::format("fresh: {}", fmt::join(fresh, ", "))};
}

void register_source_metrics(ops::Registry& registry,
                             const std::shared_ptr<const VerificationSources>& sources) {
  if (!sources || !sources->online()) {
    return;
  }
  auto& expiry =
      registry.gauge("atls_collateral_expiry_seconds",
                     "Seconds until a cached collateral bundle expires (negative once expired)",
                     {"source", "key"});
  auto& age =
      registry.gauge("atls_collateral_age_seconds",
                     "Seconds since a cached collateral bundle was fetched", {"source", "key"});
  auto& entry_failures = registry.gauge(
      "atls_collateral_consecutive_failures",
      "Consecutive failed refreshes of a collateral bundle (0 after a success)", {"source", "key"});
  auto& failures = registry.counter(
      "atls_collateral_fetch_failures_total",
      "Requests to the collateral upstream that failed (transport error or error status)",
      {"source"});
  auto& refused = registry.counter(
      "atls_collateral_fetch_refused_total",
      "Fetches not sent because the upstream's breaker was open or it asked to back off",
      {"source"});
  auto& breaker = registry.gauge("atls_collateral_upstream_breaker_state",
                                 "Circuit breaker of the collateral upstream: 0 closed, 1 "
                                 "half-open, 2 open",
                                 {"source"});
  std::weak_ptr<const VerificationSources> weak = sources;
  if (sources->tdx_online()) {
    auto& pcs_requests = registry.counter(
        "atls_pcs_requests_total", "Requests sent to Intel PCS / the PCCS for TDX collateral");
    auto& opened = registry.counter("atls_collateral_upstream_breaker_opened_total",
                                    "Times the upstream's circuit breaker opened", {"source"});
    auto& bundles = registry.gauge("atls_collateral_entries",
                                   "Collateral bundles cached and not expired", {"source"});
    registry.add_collector([weak, &expiry, &age, &entry_failures, &failures, &refused, &breaker,
                            &pcs_requests, &opened, &bundles] {
      const auto self = weak.lock();
      if (!self || !self->tdx_service()) {
        return;
      }
      std::set<std::vector<std::string>> present;
      std::set<std::vector<std::string>> with_value;
      std::size_t valid = 0;
      for (const auto& entry : self->tdx_service()->entries()) {
        std::vector<std::string> labels{"tdx", entry.key};
        entry_failures.with(labels).set(entry.consecutive_failures);
        if (entry.has_value) {
          expiry.with(labels).set(static_cast<double>(entry.time_to_expiry.count()));
          age.with(labels).set(static_cast<double>(entry.age.count()));
          if (!entry.expired) {
            ++valid;
          }
          with_value.insert(labels);
        }
        present.insert(std::move(labels));
      }
      // Keys are bounded by the cache's entry limit; forgotten keys stop being exported.
      expiry.retain(with_value);
      age.retain(with_value);
      entry_failures.retain(present);
      bundles.with({"tdx"}).set(static_cast<double>(valid));
      const auto upstream = self->tdx_service()->upstream();
      failures.with({"tdx"}).advance_to(upstream.requests_failed);
      refused.with({"tdx"}).advance_to(upstream.requests_refused);
      pcs_requests.get().advance_to(upstream.requests_sent);
      opened.with({"tdx"}).advance_to(upstream.times_opened);
      breaker.with({"tdx"}).set(
          breaker_value(upstream.breaker == collateral::BreakerState::Closed,
                        upstream.breaker == collateral::BreakerState::HalfOpen));
    });
  }
  if (sources->snp_online()) {
    auto& requests = registry.counter("atls_kds_requests_total", "Requests sent to AMD KDS");
    auto& rate_limited = registry.counter("atls_kds_rate_limited_total",
                                          "AMD KDS answers 429/503 (the fetcher backs off)");
    auto& not_found = registry.counter("atls_kds_not_found_total", "AMD KDS answers 404");
    auto& dropped = registry.counter("atls_kds_queue_dropped_total",
                                     "VCEK fetches dropped because the queue was full");
    auto& hits = registry.counter("atls_kds_cache_hits_total",
                                  "Verifier VCEK lookups answered by the certificate cache");
    auto& misses = registry.counter("atls_kds_cache_misses_total",
                                    "Verifier VCEK lookups the cache could not answer (each "
                                    "schedules a background fetch)");
    auto& vceks = registry.gauge("atls_kds_vceks_cached", "VCEK certificates held in memory");
    registry.add_collector([weak, &failures, &refused, &breaker, &requests, &rate_limited,
                            &not_found, &dropped, &hits, &misses, &vceks] {
      const auto self = weak.lock();
      if (!self || !self->snp_cache()) {
        return;
      }
      const auto stats = self->snp_cache()->stats();
      hits.get().advance_to(stats.hits);
      misses.get().advance_to(stats.misses);
      vceks.get().set(static_cast<double>(stats.vceks));
      const auto& kds = self->kds();
      if (!kds) {
        return;
      }
      const auto status = kds->status();
      requests.get().advance_to(status.requests);
      rate_limited.get().advance_to(status.rate_limited);
      not_found.get().advance_to(status.not_found);
      dropped.get().advance_to(status.queue_dropped);
      failures.with({"kds"}).advance_to(status.failures);
      refused.with({"kds"}).advance_to(status.suppressed);
      breaker.with({"kds"}).set(breaker_value(status.breaker == snp::BreakerState::Closed,
                                              status.breaker == snp::BreakerState::HalfOpen));
    });
  }
  if (sources->snp_online() && !sources->snp_crl_products().empty()) {
    // Only the --kds-crls CRLs (at most 3 products × 2 families), and only while one is cached.
    auto& next_update = registry.gauge(
        "atls_kds_crl_next_update_seconds",
        "Seconds until the nextUpdate of a cached AMD CRL (negative once passed: SEV-SNP chains "
        "of that product and family are refused with snp.crl_expired)",
        {"product", "family"});
    auto& crl_age =
        registry.gauge("atls_kds_crl_age_seconds",
                       "Seconds since the thisUpdate of a cached AMD CRL", {"product", "family"});
    auto& refreshes = registry.counter(
        "atls_kds_crl_refreshes_total",
        "AMD CRL fetches from KDS: ok (vetted and cached) or failed (the cached CRL stays)",
        {"result"});
    registry.add_collector([weak, &next_update, &crl_age, &refreshes] {
      const auto self = weak.lock();
      if (!self || !self->kds()) {
        return;
      }
      const auto now = std::chrono::system_clock::now();
      std::set<std::vector<std::string>> present;
      for (const auto& crl : self->snp_crl_state()) {
        if (!crl.present || !crl.this_update || !crl.next_update) {
          continue;
        }
        std::vector<std::string> labels{std::string(snp::to_string(crl.product)),
                                        snp::crl_family(crl.kind)};
        next_update.with(labels).set(static_cast<double>(
            std::chrono::duration_cast<std::chrono::seconds>(*crl.next_update - now).count()));
        crl_age.with(labels).set(static_cast<double>(
            std::chrono::duration_cast<std::chrono::seconds>(now - *crl.this_update).count()));
        present.insert(std::move(labels));
      }
      next_update.retain(present);
      crl_age.retain(present);
      const auto status = self->kds()->status();
      refreshes.with({"ok"}).advance_to(status.crl_refreshes_ok);
      refreshes.with({"failed"}).advance_to(status.crl_refreshes_failed);
    });
  }
}

}  // namespace atls::cli
