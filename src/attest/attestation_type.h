#pragma once
// Attestation type names as they appear on the wire (interop spec §2.3, §4.1), in measurement
// policy files (§6.2) and in the X-Flashbots-Attestation-Type header (§7.4).

#include <optional>
#include <span>
#include <string_view>

namespace atls::attest {

enum class AttestationType {
  None,
  DcapTdx,
  GcpTdx,
  QemuTdx,
  AzureTdx,
  /// AMD SEV-SNP (not in flashbots; docs/protocol.md §SNP evidence).
  SevSnp,
  /// SEV-SNP on Google Cloud: same evidence and verification as SevSnp.
  GcpSnp,
};

/// Which measurement registers a type produces; policy records match by family (§6.4).
enum class Family {
  None,
  Dcap,   ///< MRTD, RTMR0..3 (registers 0..4, 48 bytes each)
  Azure,  ///< vTPM PCR0..23 (32 bytes each)
  Snp,    ///< SEV-SNP report fields (attest/snp/snp_claims.h)
};

/// The exact, case-sensitive wire string ("dcap-tdx", ...).
std::string_view to_string(AttestationType type) noexcept;

/// Parses an exact wire string. nullopt for anything else (including "auto" and other case).
/// The SNP names are this project's extension: a flashbots peer rejects them while decoding
/// (it knows only the five TDX/none names), which is the right outcome for a peer that cannot
/// verify SNP evidence.
std::optional<AttestationType> parse_attestation_type(std::string_view text) noexcept;

Family family_of(AttestationType type) noexcept;

/// Every wire type, in spec order; for help texts and error messages.
std::span<const AttestationType> all_attestation_types() noexcept;

}  // namespace atls::attest
