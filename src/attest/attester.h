#pragma once
// Local evidence generation (the "attester" role of RFC 9334).

#include <memory>
#include <utility>

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

  /// generate() with a human-readable detail on failure, for the start-up self-test and logs
  /// (which path failed, the errno, the quoting service's answer). Same preconditions, blocking
  /// and thread safety as generate(); the default adds no detail to generate()'s error code.
  virtual Outcome<Bytes> generate_evidence(const ReportData& report_data) const {
    auto evidence = generate(report_data);
    if (!evidence) {
      return Failure{evidence.error()};
    }
    return std::move(*evidence);
  }
};

using AttesterPtr = std::shared_ptr<const Attester>;

}  // namespace atls::attest
