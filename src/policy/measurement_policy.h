#pragma once
// Measurement policy (interop spec §6): which attested workloads a peer may run.
//
// Policy evaluation consumes verified claims and does no I/O (verify vs validate, see
// docs/architecture.md). Loading accepts every form flashbots' measurements files use, but
// rejects what flashbots silently ignores (unknown fields, main-only record forms) so a typo can
// never turn into "accept any measurements" — see docs/policy.md.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/claims.h"
#include "core/bytes.h"
#include "core/error.h"
#include "policy/snp_policy.h"
#include "policy/tcb_status_policy.h"

namespace atls::policy {

/// One register constraint: the measured value must equal one of `accepted`.
struct RegisterRule {
  unsigned index = 0;  ///< flashbots register index (attest::Measurements key space)
  std::vector<Bytes> accepted;
};

struct PolicyRecord {
  std::size_t position = 0;    ///< 1-based position in the source, for messages
  std::string measurement_id;  ///< optional free text
  attest::AttestationType type = attest::AttestationType::None;
  std::vector<RegisterRule> rules;  ///< sorted by index; empty = any measurements of the family
  /// SEV-SNP records: the report-field rules (the "snp" object; its defaults when absent:
  /// debug forbidden, VMPL 0). Set exactly for records of the SNP family.
  std::optional<SnpPolicy> snp;

  /// "record 2 (\"dcap-tdx-example\")"
  std::string label() const;
};

struct RegisterMismatch {
  unsigned index = 0;
  std::optional<Bytes> actual;  ///< nullopt when the evidence lacks the register
};

struct RecordMismatch {
  std::size_t record_index = 0;  ///< into MeasurementPolicy::records()
  std::vector<RegisterMismatch> registers;
  /// Failed SEV-SNP rules (SNP records).
  std::vector<SnpMismatch> snp;
};

struct Evaluation {
  /// Index into records() of the first record that accepts the claims.
  std::optional<std::size_t> matched;
  /// Every record of the claims' family that did not accept them, with every failing register.
  std::vector<RecordMismatch> mismatches;
};

class MeasurementPolicy {
 public:
  /// Parses a measurements document. `source` (file path or URL) is used in error details.
  static Outcome<MeasurementPolicy> parse(std::string_view json_text, std::string_view source);

  /// Policy from `--allowed-remote-attestation-type` (§6.3, lower-cased first): "none" accepts
  /// only unattested peers; "tdx" any DCAP-family or Azure measurements; a type name any
  /// measurements of that type's family.
  static Outcome<MeasurementPolicy> from_allowed_type(std::string_view type);

  /// Whether a peer may be unattested (a record of type none exists).
  bool accepts_none() const noexcept;

  /// Whether any record constrains the given family.
  bool has_family(attest::Family family) const noexcept;

  /// Matches verified claims against every record (§6.4): a record accepts when its family is
  /// the claims' family and every listed register equals one of its values.
  Evaluation evaluate(const attest::VerifiedClaims& claims) const;

  /// Human-readable listing of every mismatch, e.g.
  /// "record 3 (\"dcap-tdx-example\"): mrtd is a5844e88… (expected 47a1cc07…)".
  std::string describe(const Evaluation& evaluation, const attest::VerifiedClaims& claims) const;

  const std::vector<PolicyRecord>& records() const noexcept { return records_; }
  const std::string& source() const noexcept { return source_; }

  /// Which TCB statuses (TDX collateral grades) are acceptable; defaults().
  const TcbStatusPolicy& tcb_status_policy() const noexcept { return tcb_status_; }
  void set_tcb_status_policy(TcbStatusPolicy policy) { tcb_status_ = std::move(policy); }

 private:
  std::vector<PolicyRecord> records_;
  TcbStatusPolicy tcb_status_ = TcbStatusPolicy::defaults();
  std::string source_;
};

/// Display name of a register: "mrtd", "rtmr0".."rtmr3" (DCAP) or "pcrN" (Azure).
std::string register_name(attest::Family family, unsigned index);

}  // namespace atls::policy
