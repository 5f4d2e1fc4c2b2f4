#pragma once
// The online verification sources of a proxy process (docs/operations.md "Collateral and
// certificates"):
//
//  * TDX: the collateral service (attest/collateral/tdx_pcs.h) — Intel PCS or the PCCS of
//    --pccs-url, a disk cache (--collateral-cache-dir), a background refresh thread. The TDX
//    verifier asks the --collateral files first, then the service.
//  * SEV-SNP: the VCEK certificate cache (attest/snp/certificate_cache.h, --kds-cache-dir)
//    filled from AMD KDS (--kds-url) by the KDS fetcher's worker on a verifier miss; with
//    --kds-crls also AMD's CRLs of those products, fetched at start-up and refreshed by the same
//    worker, which the SNP verifiers require and apply as they change (no reload needed).
//
// Offline by default: without these flags nothing is fetched, TDX collateral comes from the
// --collateral files only and SNP evidence must carry its VCEK (flashbots, by contrast, fetches
// collateral from Intel PCS on every verification). The handshake path never fetches: a miss
// answers tdx.collateral_unavailable / snp.certificate_missing at once and schedules a
// background fetch, so the peer's next attempt succeeds.
//
// Created ONCE per process, at command start-up: a SIGHUP policy reload builds new verifiers
// over the same sources (make_verifiers), so threads and caches are never duplicated.

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "attest/collateral/tdx_pcs.h"
#include "attest/snp/certificate_cache.h"
#include "attest/snp/kds_client.h"
#include "attest/tdx/pcs.h"
#include "attest/verifier.h"
#include "core/error.h"
#include "ops/admin.h"
#include "ops/metrics.h"

namespace atls::cli {

struct GlobalOptions;

/// "FMSPC[:platform|processor]" (--collateral-prefetch; the CA defaults to platform).
std::optional<std::pair<attest::tdx::Fmspc, attest::tdx::PckCaType>> parse_collateral_prefetch(
    std::string_view text);

/// --kds-crls: each value "Milan", "Genoa", "Turin" (any case) or "all"; duplicates collapse.
/// nullopt names nothing valid (the caller reports the flag).
std::optional<std::vector<attest::snp::Product>> parse_kds_crl_products(
    const std::vector<std::string>& values);

class VerificationSources final {
 public:
  /// Reads the flags, opens and restores the cache directories (blocking disk I/O: call at
  /// start-up) and creates the KDS fetcher (its worker thread starts at once; it only fetches
  /// on a verifier miss). Does not start the TDX refresh thread (start()).
  /// @return the sources (none online without the flags), or a usage failure naming the flag.
  static Outcome<std::shared_ptr<VerificationSources>> create(const GlobalOptions& global);

  /// Stops every thread (stop()).
  ~VerificationSources();
  VerificationSources(const VerificationSources&) = delete;
  VerificationSources& operator=(const VerificationSources&) = delete;

  /// Starts the TDX refresh thread, then fetches the --collateral-prefetch platforms and waits
  /// for the first fetch of the --kds-crls CRLs (the KDS worker starts those at creation), each
  /// waiting at most `warm_up_timeout`. A failed warm-up is logged as a warning and start-up
  /// continues (a handshake of such a platform is refused until a background fetch succeeds:
  /// tdx.collateral_unavailable, snp.crl_missing). Blocking; call once, before serving.
  void start(std::chrono::milliseconds warm_up_timeout);

  /// Stops the TDX refresh thread (idempotent). The KDS worker is joined when the sources are
  /// destroyed.
  void stop();

  bool tdx_online() const noexcept { return tdx_service_ != nullptr; }
  bool snp_online() const noexcept { return snp_cache_ != nullptr; }
  bool online() const noexcept { return tdx_online() || snp_online(); }

  /// The verifiers over these sources: production roots, or only the mock roots of
  /// --insecure-trust-mock-tee. Re-reads the --collateral files, so a SIGHUP reload calls it
  /// again. Errors are usage errors (unreadable files, no mock roots).
  Outcome<std::vector<attest::VerifierPtr>> make_verifiers(const GlobalOptions& global) const;

  /// Whether `code` is a rejection a background fetch of these sources may cure:
  /// tdx.collateral_unavailable with the collateral service, snp.certificate_missing with the
  /// KDS cache, snp.crl_missing and snp.crl_expired with --kds-crls (the worker retries the
  /// CRL). Always false offline (nothing would ever be fetched).
  bool is_transient(const ErrorCode& code) const;

  /// Waits until the fetches that verifier misses scheduled have run (successfully or not), at
  /// most `timeout`. For one-shot commands, which then retry once. Returns whether all ran.
  bool wait_for_fetches(std::chrono::milliseconds timeout) const;

  /// The readiness check "collateral" (docs/operations.md): every platform of
  /// --collateral-prefetch has TDX collateral cached and not expired, and every --kds-crls CRL
  /// is cached and before its nextUpdate. Reads memory only (the admin listener calls it at
  /// every /attestation/ready). Always ready offline and without prefetch platforms or CRLs:
  /// which platforms peers will come from is not known in advance.
  ops::ReadinessCheck collateral_readiness() const;

  const std::shared_ptr<attest::collateral::TdxCollateralService>& tdx_service() const noexcept {
    return tdx_service_;
  }
  const std::shared_ptr<attest::snp::CertificateCache>& snp_cache() const noexcept {
    return snp_cache_;
  }
  const std::shared_ptr<attest::snp::KdsFetcher>& kds() const noexcept { return kds_; }

  /// The --kds-crls products (empty: no SNP revocation checking).
  const std::vector<attest::snp::Product>& snp_crl_products() const noexcept {
    return crl_products_;
  }

  /// The state of each --kds-crls CRL, per (product, family): `present` (cached and signed by
  /// the product's ARK), `next_update` (the SNP verifiers refuse that product's chains with
  /// snp.crl_expired once it has passed, snp.crl_missing while not present), the last refresh
  /// error, the schedule. Empty without --kds-crls. For readiness checks: ready iff every entry
  /// is present with next_update in the future. Thread-safe, no I/O.
  std::vector<attest::snp::KdsCrlStatus> snp_crl_state() const;

  VerificationSources() = default;

 private:
  void start_tdx(std::chrono::milliseconds warm_up_timeout);

  std::vector<std::pair<attest::tdx::Fmspc, attest::tdx::PckCaType>> prefetch_;
  std::shared_ptr<attest::collateral::TdxCollateralService> tdx_service_;
  std::shared_ptr<attest::snp::CertificateCache> snp_cache_;
  std::shared_ptr<attest::snp::KdsFetcher> kds_;
  std::vector<attest::snp::Product> crl_products_;
  bool started_ = false;
};

using VerificationSourcesPtr = std::shared_ptr<VerificationSources>;

/// Exports the state of `sources` in `registry`, computed at every scrape (docs/metrics.md):
/// per cached TDX bundle its time to expiry and age, fetch failures, breaker states, KDS
/// counters, per --kds-crls CRL its time to nextUpdate and age. Holds `sources` weakly. Labels:
/// source ("tdx", "kds"), the TDX cache key (bounded by the cache's entry limit), product and
/// family of a CRL (at most 3 × 2).
void register_source_metrics(ops::Registry& registry,
                             const std::shared_ptr<const VerificationSources>& sources);

}  // namespace atls::cli
