#pragma once
// Named failures of the collateral services (attest/collateral/README.md): fetching documents
// from Intel PCS / a PCCS (and later AMD KDS), caching them in memory and on disk, and keeping
// them fresh. The names ("collateral.<name>") are stable: they appear in logs, in the detail of
// tdx.collateral_unavailable and in metrics.

#include "core/error.h"

namespace atls::attest::collateral {

enum class Errc {
  // Cache state.
  NotCached = 1,
  Expired,
  CacheFull,
  // Fetching (one code per way an upstream request can fail).
  FetchFailed,
  NotFound,
  HttpStatus,
  RateLimited,
  ServerError,
  CircuitOpen,
  InvalidResponse,
  // Vetting of fetched documents.
  ValidationFailed,
  Regression,
  // Persistence.
  CacheIoFailed,
  CacheFileMalformed,
  // Use.
  InvalidKey,
  InvalidOptions,
  Timeout,
};

ATLS_DECLARE_ERRC(Errc, collateral_category)

}  // namespace atls::attest::collateral

ATLS_REGISTER_ERRC(atls::attest::collateral::Errc);
