#pragma once
// Evidence verification (is this evidence genuine at time T?). Policy — is it the workload we
// want? — is a separate step (src/policy). Verifiers do no I/O: collateral and certificates come
// from caches injected at construction, time is passed in.

#include <memory>

#include "attest/attestation_type.h"
#include "attest/claims.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest {

class Verifier {
 public:
  virtual ~Verifier() = default;

  /// Name used in logs ("dcap", "none", ...).
  virtual std::string_view name() const noexcept = 0;

  /// Whether this verifier understands evidence of `type`.
  virtual bool handles(AttestationType type) const noexcept = 0;

  /// Verifies `evidence` of `type` and checks that it binds `expected_report_data`.
  ///
  /// @param now the instant at which certificates, CRLs and collateral must be valid.
  /// @return the verified claims, or a named error of the implementing module.
  /// @par Thread Safety
  /// Must allow concurrent calls.
  virtual Result<VerifiedClaims> verify(AttestationType type, ByteView evidence,
                                        const ReportData& expected_report_data,
                                        SystemTime now) const = 0;
};

using VerifierPtr = std::shared_ptr<const Verifier>;

}  // namespace atls::attest
