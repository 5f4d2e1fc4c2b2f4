#pragma once
// Intel TDX DCAP collateral from Intel PCS v4 or a PCCS (docs/verification.md §1.5, interop
// spec §5.2 step 2), on the generic DocumentCache:
//
//  * TdxPcsLoader fetches the four documents of one (FMSPC, PCK CA) key — TCB info, QE identity,
//    PCK CRL (each with its issuer-chain header) and the root CA CRL — assembles a
//    tdx::Collateral with the existing parsers, and vets it with
//    QuoteVerifier::verify_collateral before it may replace anything (a bad fetch never evicts
//    good collateral). Documents older than the cached ones are refused (rollback).
//  * TdxCollateralService is the production tdx::CollateralSource: collateral() answers from
//    the cache without I/O (a miss returns tdx.collateral_unavailable and schedules a fetch);
//    prefetch() / warm_up() block, for start-up and the CLI.
//
// This lives here rather than in attest/tdx because it does I/O (network through the Fetcher,
// disk through the cache): attest/tdx stays a pure verifier with no dependency on net, and its
// I/O-free PCS pieces (URLs, header names, bundle dates) are in attest/tdx/pcs.h.

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attest/collateral/document_cache.h"
#include "attest/collateral/errors.h"
#include "attest/tdx/collateral_source.h"
#include "attest/tdx/pcs.h"
#include "attest/tdx/quote_verifier.h"
#include "attest/tdx/trust.h"

namespace atls::attest::collateral {

/// Cache keys: "tdx-<fmspc, 12 lower-case hex>-<platform|processor>".
inline constexpr std::string_view kTdxKeyPrefix = "tdx-";
std::string tdx_cache_key(const tdx::Fmspc& fmspc, tdx::PckCaType ca);
std::optional<std::pair<tdx::Fmspc, tdx::PckCaType>> parse_tdx_cache_key(std::string_view key);

class TdxPcsLoader final : public EntryLoader {
 public:
  /// @param base_url normalised PCS/PCCS base (tdx::normalize_pcs_base_url)
  /// @param verifier vets every bundle (its trust anchors decide what is accepted)
  /// @param root_ca_crl_url where to get the root CA CRL instead of the defaults (optional)
  TdxPcsLoader(std::string base_url, std::shared_ptr<const tdx::QuoteVerifier> verifier,
               std::optional<std::string> root_ca_crl_url = std::nullopt);

  /// Errors: upstream failures unchanged; collateral.invalid_response (missing issuer-chain
  /// header, documents that do not parse — detail has the tdx.* code),
  /// collateral.validation_failed (verify_collateral failed, or the bundle is for another
  /// FMSPC / CA), collateral.regression (older than `current`), collateral.invalid_key.
  Outcome<Loaded> fetch(const std::string& key, Upstream& upstream, const Loaded* current,
                        SystemTime now) const override;

  /// The payload is the dcap-qvl JSON form (tdx::collateral_to_json); vetted like a fetch.
  Outcome<Loaded> decode(const std::string& key, std::string_view payload,
                         SystemTime now) const override;

 private:
  Outcome<Bytes> fetch_root_ca_crl(Upstream& upstream, const tdx::PcsUrls& urls,
                                   const std::string& qe_identity_chain) const;
  Outcome<Loaded> vet(const std::string& key, tdx::CollateralDocuments documents,
                      const Loaded* current, SystemTime now, Errc parse_error) const;

  std::string base_url_;
  std::shared_ptr<const tdx::QuoteVerifier> verifier_;
  std::optional<std::string> root_ca_crl_url_;
};

/// The dates of a bundle as JSON (RFC 3339 strings), as `collateral show` prints them and
/// EntrySnapshot::details carries them.
nlohmann::json tdx_dates_json(const tdx::CollateralDates& dates);

struct TdxCollateralServiceOptions {
  /// --pccs-url: a PCCS or Intel PCS base URL; empty = Intel PCS. Normalised as interop §5.2
  /// step 2 says (trailing '/', "/sgx/certification/v4", "/tdx/certification/v4" trimmed).
  std::string pccs_url;
  /// Overrides where the root CA CRL is fetched from (default: PCCS /rootcacrl, else the CRL
  /// distribution point of the pinned root).
  std::optional<std::string> root_ca_crl_url;
  /// Cache directory, refresh and retry policy; key_prefix is set to "tdx-".
  CacheOptions cache;
  /// nullptr = the pinned production Intel root (what production uses). Tests and the mock TEE
  /// pass TrustAnchors::insecure_test_roots_for_testing(...).
  tdx::TrustAnchorsPtr trust_anchors;
  /// For the default HttpFetcher (ignored when a fetcher is injected).
  HttpFetcherOptions http;
};

class TdxCollateralService final : public tdx::CollateralSource {
 public:
  /// Builds the service and restores the cache directory (DocumentCache::load_from_disk). Does
  /// not start the refresh thread (start()).
  /// @return collateral.invalid_options (bad URL), tdx.root_pin_mismatch (corrupted build).
  static Outcome<std::shared_ptr<TdxCollateralService>> create(
      TdxCollateralServiceOptions options, DocumentCache::Dependencies dependencies = {});

  /// Cached collateral for (FMSPC, CA), without I/O. On a miss or after expiry:
  /// tdx.collateral_unavailable, with the collateral.* reason and last fetch error in the
  /// detail, and a background fetch is scheduled (picked up by the refresh thread or poll()).
  /// @par Thread Safety
  /// Safe to call concurrently, from any thread (including I/O threads).
  Outcome<tdx::CollateralPtr> collateral(const tdx::Fmspc& fmspc, tdx::PckCaType ca) const override;

  /// Fetches (or joins the fetch of) one bundle now and waits up to `timeout`. Blocking: for
  /// start-up and the CLI only. Errors are collateral.* codes.
  Outcome<tdx::CollateralPtr> prefetch(const tdx::Fmspc& fmspc, tdx::PckCaType ca,
                                       std::chrono::milliseconds timeout);

  /// Start-up warm-up: refreshes every restored key whose refresh is due plus `keys`, waiting
  /// up to `timeout` in total. Succeeds when every one of them has servable collateral
  /// afterwards (a restored bundle still valid counts even if its refresh failed); otherwise
  /// the failure names the keys without collateral. Blocking.
  Outcome<void> warm_up(const std::vector<std::pair<tdx::Fmspc, tdx::PckCaType>>& keys,
                        std::chrono::milliseconds timeout);

  /// Background refresh (DocumentCache::start/stop/poll).
  void start(std::chrono::milliseconds tick = std::chrono::seconds(5)) { cache_->start(tick); }
  void stop() { cache_->stop(); }
  void poll() { cache_->poll(); }

  /// Observability: per-entry age, time to expiry, failures, document dates; breaker state.
  std::vector<EntrySnapshot> entries() const { return cache_->snapshot(); }
  UpstreamSnapshot upstream() const { return cache_->upstream(); }

  const std::string& base_url() const noexcept { return base_url_; }
  const tdx::QuoteVerifier& verifier() const noexcept { return *verifier_; }
  DocumentCache& cache() noexcept { return *cache_; }

 private:
  TdxCollateralService() = default;

  std::string base_url_;
  std::shared_ptr<const tdx::QuoteVerifier> verifier_;
  std::unique_ptr<DocumentCache> cache_;
};

/// One file of a cache directory as `collateral show` lists it: parsed and dated, with the
/// result of vetting it at `now` — without the service, so expired and rejected files show too.
struct CachedTdxFile {
  std::filesystem::path path;
  std::string key;
  std::optional<SystemTime> fetched_at;
  std::optional<tdx::CollateralDates> dates;
  std::optional<Failure> error;  ///< unreadable, malformed or failing verification at `now`
};

std::vector<CachedTdxFile> read_tdx_cache_directory(const std::filesystem::path& directory,
                                                    const tdx::QuoteVerifier& verifier,
                                                    SystemTime now);

}  // namespace atls::attest::collateral
