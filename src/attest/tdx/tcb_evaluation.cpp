#include "attest/tdx/tcb_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "attest/tdx/errors.h"

namespace atls::attest::tdx {
namespace {

Failure fail(Errc code, std::string detail) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::string module_id_for(std::uint8_t major) {
  return fmt::format("TDX_{:02X}", major);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

const TdxModuleIdentity* find_module_identity(const TcbInfo& info, std::uint8_t major) {
  const std::string id = module_id_for(major);
  for (const auto& identity : info.tdx_module_identities) {
    if (iequals(identity.id, id)) {
      return &identity;
    }
  }
  return nullptr;
}

/// Module levels, highest ISVSVN first.
std::vector<TdxModuleTcbLevel> sorted_module_levels(const TdxModuleIdentity& identity) {
  auto levels = identity.tcb_levels;
  std::stable_sort(levels.begin(), levels.end(),
                   [](const auto& a, const auto& b) { return a.isv_svn > b.isv_svn; });
  return levels;
}

bool is_configuration_needed(TcbStatus status) {
  return status == TcbStatus::ConfigurationNeeded ||
         status == TcbStatus::OutOfDateConfigurationNeeded ||
         status == TcbStatus::ConfigurationAndSwHardeningNeeded ||
         status == TcbStatus::TdRelaunchAdvisedConfigurationNeeded;
}

/// QVL convergeTcbStatusWithTdxModuleStatus / convergeTcbStatusWithQeTcbStatus: an OutOfDate
/// component downgrades UpToDate/SWHardeningNeeded to OutOfDate and the Configuration* statuses
/// to OutOfDateConfigurationNeeded; a Revoked component revokes.
TcbStatus converge(TcbStatus level, TcbStatus component) {
  if (component == TcbStatus::OutOfDate) {
    if (level == TcbStatus::UpToDate || level == TcbStatus::SwHardeningNeeded) {
      return TcbStatus::OutOfDate;
    }
    if (level == TcbStatus::ConfigurationNeeded ||
        level == TcbStatus::ConfigurationAndSwHardeningNeeded) {
      return TcbStatus::OutOfDateConfigurationNeeded;
    }
  }
  if (component == TcbStatus::Revoked) {
    return TcbStatus::Revoked;
  }
  return level;
}

void add_advisories(std::vector<std::string>& out, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (std::find(out.begin(), out.end(), id) == out.end()) {
      out.push_back(id);
    }
  }
}

std::string hex_of(ByteView bytes) {
  return to_hex(bytes);
}

/// QVL's canonical level order (TcbLevel::operator>, AttestationParsers/src/Json/TcbLevel.cpp),
/// as pointers into `levels` (no copies on the per-quote path).
std::vector<const TcbLevel*> canonical_order(const std::vector<TcbLevel>& levels, bool tdx) {
  std::vector<const TcbLevel*> order;
  order.reserve(levels.size());
  for (const auto& level : levels) {
    order.push_back(&level);
  }
  std::stable_sort(order.begin(), order.end(), [tdx](const TcbLevel* a, const TcbLevel* b) {
    if (a->sgx_components != b->sgx_components) {
      return a->sgx_components > b->sgx_components;
    }
    if (tdx && a->pce_svn == b->pce_svn) {
      return a->tdx_components > b->tdx_components;
    }
    return a->pce_svn > b->pce_svn;
  });
  return order;
}

bool is_tdx(const TcbInfo& info) {
  return info.version >= 3 && info.id == "TDX";
}

}  // namespace

std::vector<TcbLevel> canonical_tcb_levels(const TcbInfo& tcb_info) {
  std::vector<TcbLevel> out;
  for (const TcbLevel* level : canonical_order(tcb_info.tcb_levels, is_tdx(tcb_info))) {
    out.push_back(*level);
  }
  return out;
}

Outcome<QeTcbLevel> match_qe_tcb_level(const QeIdentity& identity, std::uint16_t isv_svn) {
  auto levels = identity.tcb_levels;
  std::stable_sort(levels.begin(), levels.end(),
                   [](const auto& a, const auto& b) { return a.isv_svn > b.isv_svn; });
  for (const auto& level : levels) {
    if (level.isv_svn <= isv_svn) {
      return level;
    }
  }
  return fail(Errc::QeTcbNotSupported, "QE ISVSVN " + std::to_string(isv_svn));
}

Outcome<TcbEvaluation> evaluate_tdx_tcb(const TcbInfo& tcb_info, const PckExtension& pck,
                                        const Quote& quote, const QeTcbLevel& qe_level,
                                        const TcbEvaluationOptions& options) {
  const TdReport& body = quote.body;
  const std::uint8_t module_svn = body.tee_tcb_svn[0];
  const std::uint8_t module_major = body.tee_tcb_svn[1];
  TcbEvaluation out;

  // TDX module identity (QVL 4.1.2.4.11): for module major version > 0 the identity "TDX_<major>"
  // replaces the generic tdxModule values.
  const TdxModuleIdentity* identity = nullptr;
  TdxModule expected_module;
  if (module_major > 0) {
    identity = find_module_identity(tcb_info, module_major);
    if (identity == nullptr) {
      return fail(Errc::TdxModuleIdentityNotFound,
                  "no " + module_id_for(module_major) + " in tdxModuleIdentities");
    }
    expected_module = identity->module;
    out.module_id = identity->id;
  } else if (tcb_info.tdx_module) {
    expected_module = *tcb_info.tdx_module;
  } else {
    return fail(Errc::TdxModuleIdentityNotFound, "TCB info has no tdxModule");
  }
  if (body.mr_signer_seam != expected_module.mr_signer) {
    return fail(Errc::TdxModuleMismatch, "MRSIGNERSEAM " + hex_of(body.mr_signer_seam));
  }
  // QVL 4.1.2.4.11.2: SEAMATTRIBUTES must be zero and equal the expected attributes.
  for (std::size_t i = 0; i < body.seam_attributes.size(); ++i) {
    if (body.seam_attributes[i] != 0 || expected_module.attributes[i] != 0) {
      return fail(Errc::SeamAttributesInvalid, "SEAMATTRIBUTES " + hex_of(body.seam_attributes));
    }
  }

  // Levels, with the Azure override applied to a copy (the signed text is untouched).
  std::vector<TcbLevel> overridden;
  if (options.azure_outdated_tcb_override && tcb_info.fmspc == kAzureOutdatedFmspc) {
    overridden = tcb_info.tcb_levels;
    for (auto& level : overridden) {
      level.sgx_components[7] = std::min<std::uint8_t>(level.sgx_components[7], 3);
    }
    out.azure_override_applied = true;
  }
  const auto levels = canonical_order(out.azure_override_applied ? overridden : tcb_info.tcb_levels,
                                      is_tdx(tcb_info));

  // §1.4 step 1 (QVL matchTcbLevels): the first level the SGX components and PCESVN reach is the
  // SGX level; the first (from there on) that the TEE_TCB_SVN also reaches is the TDX level.
  // With a module major version > 0, TEE_TCB_SVN bytes 0-1 are judged by the module identity.
  const std::size_t tdx_start = module_major > 0 ? 2 : 0;
  const TcbLevel* sgx_level = nullptr;
  const TcbLevel* tdx_level = nullptr;
  for (const TcbLevel* level : levels) {
    bool sgx_ok = pck.pce_svn >= level->pce_svn;
    for (std::size_t i = 0; i < 16 && sgx_ok; ++i) {
      sgx_ok = pck.tcb_components[i] >= level->sgx_components[i];
    }
    if (!sgx_ok) {
      continue;
    }
    if (sgx_level == nullptr) {
      sgx_level = level;
    }
    bool tdx_ok = true;
    for (std::size_t i = tdx_start; i < 16 && tdx_ok; ++i) {
      tdx_ok = body.tee_tcb_svn[i] >= level->tdx_components[i];
    }
    if (tdx_ok) {
      tdx_level = level;
      break;
    }
  }
  if (sgx_level == nullptr) {
    return fail(Errc::NoMatchingTcbLevel,
                "SGX TCB components " + hex_of(pck.tcb_components) + " PCESVN " +
                    std::to_string(pck.pce_svn) +
                    (out.azure_override_applied ? " (Azure override applied)" : ""));
  }
  if (tdx_level == nullptr) {
    return fail(Errc::NoMatchingTdxTcbLevel, "TEE_TCB_SVN " + hex_of(body.tee_tcb_svn));
  }
  out.sgx_level_status = sgx_level->status;
  out.tdx_level_status = tdx_level->status;
  out.tdx_level_date = tdx_level->tcb_date;
  add_advisories(out.advisory_ids, tdx_level->advisory_ids);

  // Module TCB level (QVL checkTdxModuleTcbStatus): first level with isvsvn <= TEE_TCB_SVN[0].
  TcbStatus status = tdx_level->status;
  if (identity != nullptr) {
    const auto module_levels = sorted_module_levels(*identity);
    const TdxModuleTcbLevel* module_level = nullptr;
    for (const auto& level : module_levels) {
      if (module_svn >= level.isv_svn) {
        module_level = &level;
        break;
      }
    }
    if (module_level == nullptr) {
      return fail(Errc::NoMatchingTdxModuleLevel,
                  identity->id + " module SVN " + std::to_string(module_svn));
    }
    out.module_status = module_level->status;
    add_advisories(out.advisory_ids, module_level->advisory_ids);
    status = converge(status, module_level->status);
  }

  // TD relaunch (QVL checkForRelaunch, verification.md §1.4 step 5): TD report 1.5 only.
  if (quote.body_type == kBodyTypeTdReport15 && status != TcbStatus::Revoked &&
      qe_level.status != TcbStatus::OutOfDate && qe_level.status != TcbStatus::Revoked &&
      (out.sgx_level_status == TcbStatus::UpToDate ||
       out.sgx_level_status == TcbStatus::SwHardeningNeeded ||
       out.sgx_level_status == TcbStatus::ConfigurationNeeded ||
       out.sgx_level_status == TcbStatus::ConfigurationAndSwHardeningNeeded) &&
      (status == TcbStatus::OutOfDate || status == TcbStatus::OutOfDateConfigurationNeeded) &&
      out.module_status == TcbStatus::OutOfDate) {
    const TcbLevel& latest = *levels.front();
    const auto& svn2 = body.tee_tcb_svn2;
    bool reaches_latest = false;
    if (svn2[1] == 0) {
      reaches_latest = svn2[0] >= latest.tdx_components[0] && svn2[2] >= latest.tdx_components[2];
    } else {
      const TdxModuleIdentity* identity2 = find_module_identity(tcb_info, svn2[1]);
      if (identity2 == nullptr) {
        return fail(Errc::TdxModuleIdentityNotFound,
                    "no " + module_id_for(svn2[1]) + " for TEE_TCB_SVN2");
      }
      const auto levels2 = sorted_module_levels(*identity2);
      if (levels2.empty()) {
        return fail(Errc::NoMatchingTdxModuleLevel, identity2->id + " has no TCB levels");
      }
      reaches_latest = svn2[0] >= levels2.front().isv_svn && svn2[2] >= latest.tdx_components[2];
    }
    if (reaches_latest) {
      status = is_configuration_needed(out.sgx_level_status) || is_configuration_needed(status)
                   ? TcbStatus::TdRelaunchAdvisedConfigurationNeeded
                   : TcbStatus::TdRelaunchAdvised;
    }
  }

  // QE convergence (QVL convergeTcbStatusWithQeTcbStatus).
  out.qe_status = qe_level.status;
  add_advisories(out.advisory_ids, qe_level.advisory_ids);
  out.status = converge(status, qe_level.status);
  return out;
}

}  // namespace atls::attest::tdx
