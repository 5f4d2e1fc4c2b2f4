#pragma once
// What a verifier establishes about genuine evidence; consumed by policy (verify vs validate,
// see docs/architecture.md).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attest/attestation_type.h"
#include "attest/snp/snp_claims.h"
#include "attest/tdx/tdx_claims.h"
#include "core/bytes.h"

namespace atls::attest {

/// The 64 bytes bound into evidence (interop spec §3.1).
using ReportData = std::array<std::uint8_t, 64>;

/// Measurement registers keyed by their flashbots index: DCAP family 0 = MRTD, 1..4 = RTMR0..3;
/// Azure family 0..23 = PCR index. This is also the key space of the X-Flashbots-Measurement
/// header (§7.4) and of policy files (§6.2).
using Measurements = std::map<unsigned, Bytes>;

struct VerifiedClaims {
  AttestationType type = AttestationType::None;
  Measurements measurements;
  ReportData report_data{};
  /// TCB status as reported by the evidence's collateral ("UpToDate", ...); empty when the
  /// evidence type has no such notion.
  std::string tcb_status;
  std::vector<std::string> advisory_ids;
  /// Type-specific claims, set by the verifier of that family.
  std::optional<tdx::TdxClaims> tdx;
  std::optional<snp::SnpClaims> snp;
};

/// Compact JSON object with decimal keys and lowercase hex values, as in the
/// X-Flashbots-Measurement header and `get-tls-cert --out-measurements` (§7.4). Keys are
/// emitted in ascending numeric order (flashbots' order is arbitrary; consumers compare as maps).
std::string measurements_to_json(const Measurements& measurements);

}  // namespace atls::attest
