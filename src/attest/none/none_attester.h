#pragma once
// The `none` attestation type: no evidence (interop spec §4.1). Accepted by a verifier only when
// its policy explicitly allows it (§5.1).

#include "attest/attester.h"

namespace atls::attest {

class NoneAttester final : public Attester {
 public:
  AttestationType type() const noexcept override { return AttestationType::None; }
  Result<Bytes> generate(const ReportData& /*report_data*/) const override { return Bytes{}; }
};

}  // namespace atls::attest
