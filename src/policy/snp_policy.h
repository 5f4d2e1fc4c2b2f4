#pragma once
// SEV-SNP appraisal policy: which verified SNP guests are acceptable (docs/verification.md
// §2.3 step 7). The body of an `sev-snp` / `gcp-snp` record in a measurement policy file.
//
// Verification (attest/snp) establishes that a report is genuine; this decides whether it is
// the workload we want. No I/O; evaluation reports every failing rule, not only the first.
//
// JSON form (every key optional; unknown keys are errors):
//   {
//     "measurement":       "<96 hex>" | ["<96 hex>", ...],   launch digest allowlist
//     "host_data":         "<64 hex>" | [...],
//     "id_key_digest":     "<96 hex>" | [...],
//     "author_key_digest": "<96 hex>" | [...],
//     "family_id":         "<32 hex>" | [...],
//     "image_id":          "<32 hex>" | [...],
//     "chip_id":           "<128 hex>" | "<16 hex>" (Turin hwID) | [...],
//     "product":           "Milan" | "Genoa" | "Turin" | [...],
//     "signer":            "vcek" | "vlek" | [...],
//     "min_tcb":           {"bootloader": n, "tee": n, "snp": n, "microcode": n, "fmc": n},
//     "min_guest_svn":     n,
//     "vmpl":              n | [n, ...]          (default [0]; 0–3),
//     "allow_debug":       false                 (default false: policy bit 19 must be clear),
//     "allow_smt":         true | false          (false: the host must run with SMT disabled),
//     "allow_migration_agent": true | false      (false: policy bit 18 must be clear)
//   }
// An absent allowlist accepts any value. `min_tcb` applies to REPORTED_TCB (the TCB the VCEK
// certifies); "fmc" is checked only for products that have an FMC (Turin and later).

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/snp/snp_claims.h"
#include "core/error.h"

namespace atls::policy {

/// Errors of the SNP policy ("snp_policy.*"): parse errors, and one code per rule for
/// evaluation mismatches (bounded metric labels).
enum class SnpPolicyErrc {
  // Parsing.
  NotAnObject = 1,
  UnknownField,
  WrongFieldType,
  BadHex,
  BadLength,
  EmptyAllowlist,
  ValueOutOfRange,
  UnknownProduct,
  UnknownSigner,
  // Evaluation.
  MeasurementNotAllowed,
  HostDataNotAllowed,
  IdKeyDigestNotAllowed,
  AuthorKeyDigestNotAllowed,
  FamilyIdNotAllowed,
  ImageIdNotAllowed,
  ChipIdNotAllowed,
  ProductNotAllowed,
  SignerNotAllowed,
  TcbTooLow,
  GuestSvnTooLow,
  VmplNotAllowed,
  DebugNotAllowed,
  SmtNotAllowed,
  MigrationAgentNotAllowed,
};

ATLS_DECLARE_ERRC(SnpPolicyErrc, snp_policy_category)

}  // namespace atls::policy

ATLS_REGISTER_ERRC(atls::policy::SnpPolicyErrc);

namespace atls::policy {

/// Minimum security patch levels per REPORTED_TCB component (nullopt = not checked).
struct SnpMinimumTcb {
  std::optional<std::uint8_t> bootloader;
  std::optional<std::uint8_t> tee;
  std::optional<std::uint8_t> snp;
  std::optional<std::uint8_t> microcode;
  std::optional<std::uint8_t> fmc;  ///< Turin and later; ignored for products without FMC
};

/// One failed rule.
struct SnpMismatch {
  ErrorCode code;     ///< an SnpPolicyErrc evaluation code
  std::string field;  ///< the policy key ("measurement", "min_tcb.snp", ...)
  std::string text;   ///< e.g. "min_tcb.microcode: reported 68, minimum 115"
};

struct SnpEvaluation {
  std::vector<SnpMismatch> mismatches;

  bool accepted() const noexcept { return mismatches.empty(); }
  /// Every mismatch's text joined with "; " ("" when accepted).
  std::string describe() const;
};

struct SnpPolicy {
  std::vector<std::array<std::uint8_t, 48>> measurements;
  std::vector<std::array<std::uint8_t, 32>> host_data;
  std::vector<std::array<std::uint8_t, 48>> id_key_digests;
  std::vector<std::array<std::uint8_t, 48>> author_key_digests;
  std::vector<std::array<std::uint8_t, 16>> family_ids;
  std::vector<std::array<std::uint8_t, 16>> image_ids;
  std::vector<std::array<std::uint8_t, 64>> chip_ids;
  std::vector<std::string> products;  ///< "Milan", "Genoa", "Turin"
  std::vector<attest::snp::Signer> signers;
  SnpMinimumTcb min_tcb;
  std::optional<std::uint32_t> min_guest_svn;
  std::vector<std::uint32_t> vmpls{0};
  bool allow_debug = false;
  /// nullopt: not checked. false: PLATFORM_INFO must say SMT is disabled on the host.
  std::optional<bool> allow_smt;
  /// nullopt: not checked. false: guest policy bit 18 (migration agent) must be clear.
  std::optional<bool> allow_migration_agent;

  /// Parses the JSON form documented above. `context` prefixes error details (e.g. the file
  /// and record, "policy.json: record 2"); the detail then names the field:
  /// "<context>: field min_tcb.snp: expected an integer 0-255, got string".
  static Outcome<SnpPolicy> from_json(const nlohmann::json& document,
                                      std::string_view context = {});

  /// Checks every rule against verified claims and returns every failure.
  /// Thread-safe (const, no state).
  SnpEvaluation evaluate(const attest::snp::SnpClaims& claims) const;
};

}  // namespace atls::policy
