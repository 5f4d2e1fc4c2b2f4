#pragma once
// Local evidence generation (the "attester" role of RFC 9334).

#include <memory>

#include "attest/attestation_type.h"
#include "attest/claims.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest {

class Attester {
 public:
  virtual ~Attester() = default;

  /// The wire type of the evidence this attester produces.
  virtual AttestationType type() const noexcept = 0;

  /// Produces evidence that binds `report_data` (64 bytes, interop spec §3).
  ///
  /// May block (TDX quote generation goes through the kernel or a QGS); callers run it on the
  /// attestation thread pool, never on an I/O thread.
  /// @par Thread Safety
  /// Implementations must allow concurrent calls.
  /// @return the evidence bytes (empty for `none`), or an error of the implementing module.
  virtual Result<Bytes> generate(const ReportData& report_data) const = 0;
};

using AttesterPtr = std::shared_ptr<const Attester>;

}  // namespace atls::attest
