// Fuzzes the SEV-SNP policy parser (src/policy/snp_policy.h) behind the strict JSON reader: a
// document either loads or fails with a named json/snp_policy error; a loaded policy must
// evaluate arbitrary claims without crashing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json.h"
#include "policy/snp_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto document = atls::parse_json_strict(text);
  if (!document) {
    return 0;
  }
  auto policy = atls::policy::SnpPolicy::from_json(*document, "fuzz");
  if (!policy) {
    if (&policy.error().code.category() != &atls::policy::snp_policy_category()) {
      std::abort();
    }
    return 0;
  }
  atls::attest::snp::SnpClaims claims;
  claims.product = "Turin";
  claims.policy = 0xb0000;
  claims.platform_info = 1;
  claims.vmpl = 1;
  claims.reported_tcb = {0x0900000004030201, 2, 3, 4, 9, std::uint8_t{1}};
  const auto evaluation = policy->evaluate(claims);
  (void)evaluation.describe();
  claims.product = "Milan";
  claims.reported_tcb.fmc.reset();
  (void)policy->evaluate(claims).accepted();
  return 0;
}
