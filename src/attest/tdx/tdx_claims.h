#pragma once
// What the TDX verifier establishes about a genuine quote, beyond the flashbots measurement
// registers (docs/verification.md §1). Plain data: no parsing or crypto here, so the policy
// module can depend on it without depending on the verifier.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace atls::attest::tdx {

struct TdxClaims {
  std::uint16_t quote_version = 0;  ///< 4 or 5
  std::uint16_t body_type = 2;      ///< 2 = TD report 1.0, 3 = TD report 1.5
  std::array<std::uint8_t, 16> tee_tcb_svn{};
  std::array<std::uint8_t, 48> mr_seam{};
  std::array<std::uint8_t, 48> mr_signer_seam{};
  std::uint64_t seam_attributes = 0;
  std::uint64_t td_attributes = 0;  ///< little-endian u64 of the 8 attribute bytes
  std::uint64_t xfam = 0;
  std::array<std::uint8_t, 48> mr_config_id{};
  std::array<std::uint8_t, 48> mr_owner{};
  std::array<std::uint8_t, 48> mr_owner_config{};
  std::array<std::uint8_t, 16> tee_tcb_svn2{};  ///< TD report 1.5 only (zero otherwise)
  std::array<std::uint8_t, 48> mr_servicetd{};  ///< TD report 1.5 only (zero otherwise)
  std::array<std::uint8_t, 6> fmspc{};
  std::array<std::uint8_t, 16> cpu_svn{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 2> pce_id{};
  std::string pck_ca;  ///< "platform" or "processor"
  std::uint16_t qe_isv_svn = 0;
  /// Collateral-derived statuses ("UpToDate", "OutOfDate", ...). `tcb_status` is the combined
  /// status also copied into VerifiedClaims::tcb_status.
  std::string platform_tcb_status;
  std::string qe_tcb_status;
  std::string tdx_module_tcb_status;  ///< empty when the TCB info has no module identities
  std::string tcb_status;             ///< combined status (= VerifiedClaims::tcb_status)
  std::string tcb_date;               ///< tcbDate of the matched TCB level (RFC 3339)
  std::uint32_t tcb_evaluation_data_number = 0;      ///< of the TCB info used
  bool azure_outdated_tcb_override_applied = false;  ///< interop §5.2.1 changed the levels
};

}  // namespace atls::attest::tdx
