#pragma once
// TDX platform TCB evaluation: TDX module identity (docs/verification.md §1.3 step 8, Intel QVL
// 4.1.2.4.11), TCB level matching and status convergence (§1.4, QVL 4.1.2.4.17), QE TCB level
// (§1.3 step 11). Pure functions over already authenticated collateral and quote fields; the
// caller (QuoteVerifier) has verified every signature before calling them.

#include <optional>
#include <string>
#include <vector>

#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/tcb_info.h"
#include "core/error.h"

namespace atls::attest::tdx {

/// FMSPC of Azure's TDX hosts whose PCK certificates report SGX TCB component 8 = 3 while every
/// published level requires 5 (verification.md §1.6, interop §5.2.1).
inline constexpr Fmspc kAzureOutdatedFmspc{0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00};

struct TcbEvaluationOptions {
  /// interop §5.2.1: when the TCB info's FMSPC is 90C06F000000, clamp every level's SGX TCB
  /// component 8 (index 7) to at most 3 before matching. Explicit policy, never a default; only
  /// the Azure (azure-tdx) verifier enables it, as flashbots does.
  bool azure_outdated_tcb_override = false;
};

struct TcbEvaluation {
  /// Final status after module, relaunch and QE convergence (may be Revoked: the caller
  /// rejects it).
  TcbStatus status = TcbStatus::UpToDate;
  TcbStatus sgx_level_status = TcbStatus::UpToDate;  ///< level matched by the SGX components
  TcbStatus tdx_level_status = TcbStatus::UpToDate;  ///< level matched by the TDX components too
  std::optional<TcbStatus> module_status;            ///< nullopt when the module major version is 0
  TcbStatus qe_status = TcbStatus::UpToDate;
  std::string tdx_level_date;  ///< tcbDate of the matched TDX level
  std::string module_id;       ///< "TDX_01", ... (empty for major version 0)
  /// Advisory IDs of the matched TDX level, module level and QE level (deduplicated, in that
  /// order).
  std::vector<std::string> advisory_ids;
  bool azure_override_applied = false;
};

/// QE TCB level: the first level (highest ISVSVN first) with isvsvn <= `isv_svn`.
/// tdx.qe_tcb_not_supported when none matches.
Outcome<QeTcbLevel> match_qe_tcb_level(const QeIdentity& identity, std::uint16_t isv_svn);

/// Evaluates the platform TCB of a TDX quote against a TDX TCB info (id "TDX", version 3).
///
/// @return the evaluation, or tdx.tdx_module_identity_not_found, tdx.tdx_module_mismatch,
///   tdx.seam_attributes_invalid, tdx.no_matching_tcb_level, tdx.no_matching_tdx_tcb_level,
///   tdx.no_matching_tdx_module_level.
/// @par Thread Safety
/// Pure function.
Outcome<TcbEvaluation> evaluate_tdx_tcb(const TcbInfo& tcb_info, const PckExtension& pck,
                                        const Quote& quote, const QeTcbLevel& qe_level,
                                        const TcbEvaluationOptions& options = {});

/// TCB levels in QVL's canonical order (highest SGX components, then PCESVN, then TDX
/// components first; a stable sort, so documents already in that order keep it).
std::vector<TcbLevel> canonical_tcb_levels(const TcbInfo& tcb_info);

}  // namespace atls::attest::tdx
