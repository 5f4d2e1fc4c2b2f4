#include "attest/tdx/collateral_source.h"

#include <optional>

#include "attest/tdx/errors.h"

namespace atls::attest::tdx {

StaticCollateralSource::StaticCollateralSource(std::vector<CollateralPtr> bundles) {
  for (auto& bundle : bundles) {
    (void)add(std::move(bundle));
  }
}

Outcome<void> StaticCollateralSource::add(CollateralPtr bundle) {
  if (!bundle || !bundle->pck_ca_type()) {
    return Failure{make_error_code(Errc::CollateralMalformed),
                   "PCK CRL issuer is neither the Platform nor the Processor CA"};
  }
  std::lock_guard lock(mutex_);
  bundles_[{bundle->tcb_info().fmspc, *bundle->pck_ca_type()}] = std::move(bundle);
  return {};
}

Outcome<CollateralPtr> StaticCollateralSource::collateral(const Fmspc& fmspc, PckCaType ca) const {
  std::lock_guard lock(mutex_);
  if (const auto it = bundles_.find({fmspc, ca}); it != bundles_.end()) {
    return it->second;
  }
  return Failure{
      make_error_code(Errc::CollateralUnavailable),
      "no collateral for FMSPC " + to_hex(fmspc) + ", PCK CA " + std::string(to_string(ca))};
}

ChainedCollateralSource::ChainedCollateralSource(std::vector<CollateralSourcePtr> sources) {
  for (auto& source : sources) {
    if (source) {
      sources_.push_back(std::move(source));
    }
  }
}

Outcome<CollateralPtr> ChainedCollateralSource::collateral(const Fmspc& fmspc, PckCaType ca) const {
  std::optional<Failure> last;
  std::optional<Failure> specific;
  for (const auto& source : sources_) {
    auto found = source->collateral(fmspc, ca);
    if (found) {
      return found;
    }
    if (found.error().code != make_error_code(Errc::CollateralUnavailable)) {
      specific = found.error();
    }
    last = found.error();
  }
  if (specific) {
    return *specific;
  }
  if (last) {
    return *last;
  }
  return Failure{
      make_error_code(Errc::CollateralUnavailable),
      "no collateral source for FMSPC " + to_hex(fmspc) + ", PCK CA " + std::string(to_string(ca))};
}

}  // namespace atls::attest::tdx
