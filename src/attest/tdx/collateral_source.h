#pragma once
// Where the TDX verifier gets collateral from. Verification never does I/O (docs/architecture.md
// "verify vs validate"): a CollateralSource answers from memory. The production implementation
// (the collateral service, outside this module) fetches from Intel PCS / a PCCS in the
// background, keyed by FMSPC + PCK CA type (verification.md §1.5), and refreshes before
// nextUpdate; StaticCollateralSource below serves fixed bundles for tests and offline use.

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "attest/tdx/collateral.h"
#include "attest/tdx/pck_extension.h"
#include "core/error.h"

namespace atls::attest::tdx {

class CollateralSource {
 public:
  virtual ~CollateralSource() = default;

  /// The cached collateral for a platform: TCB info of `fmspc` and the PCK CRL of `ca`.
  ///
  /// Must not block on I/O: return tdx.collateral_unavailable (with a detail naming the FMSPC)
  /// when nothing is cached yet; a fetching implementation starts its fetch in the background.
  /// Returned collateral may be stale: the verifier checks freshness against its `now`.
  /// @par Thread Safety
  /// Implementations must allow concurrent calls.
  virtual Outcome<CollateralPtr> collateral(const Fmspc& fmspc, PckCaType ca) const = 0;
};

using CollateralSourcePtr = std::shared_ptr<const CollateralSource>;

/// Fixed collateral bundles held in memory, keyed by their TCB info FMSPC and PCK CRL CA type.
class StaticCollateralSource final : public CollateralSource {
 public:
  StaticCollateralSource() = default;
  explicit StaticCollateralSource(std::vector<CollateralPtr> bundles);

  /// Adds (or replaces) the bundle for its (FMSPC, CA). tdx.collateral_malformed when the PCK
  /// CRL issuer names neither the Platform nor the Processor CA.
  /// @par Thread Safety
  /// May be called concurrently with collateral().
  Outcome<void> add(CollateralPtr bundle);

  Outcome<CollateralPtr> collateral(const Fmspc& fmspc, PckCaType ca) const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<Fmspc, PckCaType>, CollateralPtr> bundles_;
};

/// Several sources asked in order; the first that has collateral for a platform answers. The
/// proxy puts the operator's --collateral files first and the collateral service (which fetches
/// in the background on a miss) last, so files given explicitly win and the service is asked —
/// and schedules a fetch — only for platforms they do not cover.
class ChainedCollateralSource final : public CollateralSource {
 public:
  /// Null entries are skipped.
  explicit ChainedCollateralSource(std::vector<CollateralSourcePtr> sources);

  /// The first success, in order. When every source fails: the failure of the last source that
  /// reported something other than tdx.collateral_unavailable (a source that knows the platform
  /// but cannot serve it says more than one that has never heard of it), else the last failure;
  /// tdx.collateral_unavailable when there are no sources.
  /// @par Thread Safety
  /// As thread-safe as the sources (every CollateralSource must be).
  Outcome<CollateralPtr> collateral(const Fmspc& fmspc, PckCaType ca) const override;

  std::size_t size() const noexcept { return sources_.size(); }

 private:
  std::vector<CollateralSourcePtr> sources_;
};

}  // namespace atls::attest::tdx
