// Fuzzes the measurement policy parser (interop spec §6.2) and the strict JSON reader under it.
// A document either loads or fails with a named policy/json error; a loaded policy must be
// usable (evaluation of arbitrary claims never crashes).
#include <cstdint>
#include <string_view>

#include "policy/measurement_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = atls::policy::MeasurementPolicy::parse(text, "fuzz");
  if (policy) {
    atls::attest::VerifiedClaims claims;
    claims.type = atls::attest::AttestationType::DcapTdx;
    for (unsigned i = 0; i < 5; ++i) {
      claims.measurements[i] = atls::Bytes(48, static_cast<std::uint8_t>(i));
    }
    const auto evaluation = policy->evaluate(claims);
    (void)policy->describe(evaluation, claims);
  }
  return 0;
}
