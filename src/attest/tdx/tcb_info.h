#pragma once
// Intel TCB info (v2, v3 with TDX components and module identities) and enclave (QE) identity
// (v2): the signed JSON documents of the DCAP collateral. Field reference: Intel PCS API v4
// "TCB Info" and "Enclave Identity" data models; docs/verification.md §1.3 steps 6-8 and §1.4.
//
// The parsers take the exact signed text (the value of "tcbInfo" / "enclaveIdentity") and check
// types, hex lengths, SVN ranges and dates; they do not check signatures (quote_verifier.h).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/tdx/pck_extension.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::tdx {

/// TCB statuses, ordered by severity as dcap-qvl orders them (interop §5.2 step 12).
enum class TcbStatus {
  UpToDate,
  SwHardeningNeeded,
  ConfigurationNeeded,
  ConfigurationAndSwHardeningNeeded,
  OutOfDate,
  OutOfDateConfigurationNeeded,
  TdRelaunchAdvised,
  TdRelaunchAdvisedConfigurationNeeded,
  Revoked,
};

/// The exact PCS spelling ("UpToDate", "SWHardeningNeeded", ...).
std::string_view to_string(TcbStatus status) noexcept;
std::optional<TcbStatus> parse_tcb_status(std::string_view text) noexcept;

struct TcbLevel {
  std::array<std::uint8_t, 16> sgx_components{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> tdx_components{};  ///< TDX TCB info only
  std::string tcb_date;
  TcbStatus status = TcbStatus::UpToDate;
  std::vector<std::string> advisory_ids;
};

struct TdxModuleTcbLevel {
  std::uint8_t isv_svn = 0;
  std::string tcb_date;
  TcbStatus status = TcbStatus::UpToDate;
  std::vector<std::string> advisory_ids;
};

struct TdxModule {
  std::array<std::uint8_t, 48> mr_signer{};
  std::array<std::uint8_t, 8> attributes{};
  std::array<std::uint8_t, 8> attributes_mask{};
};

/// One entry of `tdxModuleIdentities` (TDX 1.5 TCB info), e.g. id "TDX_01".
struct TdxModuleIdentity {
  std::string id;
  TdxModule module;
  std::vector<TdxModuleTcbLevel> tcb_levels;
};

struct TcbInfo {
  std::string id;  ///< "TDX" or "SGX" (v2 documents have no id: "SGX")
  std::uint32_t version = 0;
  SystemTime issue_date;
  SystemTime next_update;
  Fmspc fmspc{};
  PceId pce_id{};
  std::uint32_t tcb_type = 0;
  std::uint32_t tcb_evaluation_data_number = 0;
  std::optional<TdxModule> tdx_module;
  std::vector<TdxModuleIdentity> tdx_module_identities;
  std::vector<TcbLevel> tcb_levels;  ///< document order (PCS: newest first)
};

struct QeTcbLevel {
  std::uint16_t isv_svn = 0;
  std::string tcb_date;
  TcbStatus status = TcbStatus::UpToDate;
  std::vector<std::string> advisory_ids;
};

struct QeIdentity {
  std::string id;  ///< "TD_QE" for TDX, "QE"/"QVE" for SGX
  std::uint32_t version = 0;
  SystemTime issue_date;
  SystemTime next_update;
  std::uint32_t tcb_evaluation_data_number = 0;
  /// MISCSELECT as a number (the 8 hex digits parsed big-endian, as QVL does; compared with the
  /// report's little-endian u32, verification.md §1.6).
  std::uint32_t miscselect = 0;
  std::uint32_t miscselect_mask = 0;
  std::array<std::uint8_t, 16> attributes{};
  std::array<std::uint8_t, 16> attributes_mask{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  std::vector<QeTcbLevel> tcb_levels;
};

/// Parses the exact text of a `tcbInfo` object. tdx.tcb_info_malformed on any defect.
/// @par Thread Safety
/// Pure function.
Outcome<TcbInfo> parse_tcb_info(std::string_view json_text);

/// Parses the exact text of an `enclaveIdentity` object. tdx.qe_identity_malformed on any defect.
Outcome<QeIdentity> parse_qe_identity(std::string_view json_text);

}  // namespace atls::attest::tdx
