#pragma once
// SEV-SNP evidence on the wire (this project's extension; flashbots has no SNP). The layout is
// specified in docs/protocol.md §7:
//
//   off  size  field
//   0    4     magic "SNPE" (53 4e 50 45)
//   4    2     format version, u16 LE = 1
//   6    2     flags, u16 LE, must be 0
//   8    4     report length, u32 LE, must be 1184
//   12   4     certificate table length, u32 LE (0 = no certificates), ≤ kMaxCertTableSize
//   16   1184  ATTESTATION_REPORT as produced by the firmware
//   1200 n     certificate table in the GHCB/SNP_GET_EXT_REPORT format (cert_table.h)
//
// Nothing may follow. Pure computation.

#include <array>
#include <cstddef>
#include <cstdint>

#include "attest/snp/cert_table.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

inline constexpr std::array<std::uint8_t, 4> kEvidenceMagic{'S', 'N', 'P', 'E'};
inline constexpr std::uint16_t kEvidenceVersion = 1;
inline constexpr std::size_t kEvidenceHeaderSize = 16;
/// Bounds the certificate table so that evidence always fits one flashbots-ratls frame
/// (65536 bytes, interop spec §2.2) with room to spare. A VCEK, ASK and ARK take ~4.5 KiB.
inline constexpr std::size_t kMaxCertTableSize = std::size_t{48} * 1024;

struct Evidence {
  Bytes report;  ///< exactly kReportSize bytes (not yet parsed)
  CertTable certificates;
};

/// Decodes SNP evidence. Checks, in order: header present (evidence_truncated), magic
/// (evidence_bad_magic), version (unsupported_evidence_version), flags zero
/// (evidence_reserved_nonzero), report length 1184 (evidence_bad_report_length), table length
/// bound (evidence_too_large), enough bytes (evidence_truncated), nothing after the table
/// (evidence_trailing_bytes), then the certificate table itself (cert_table_* errors). The
/// report is parsed later by parse_report(). Never reads outside `data`. Thread-safe.
Result<Evidence> decode_evidence(ByteView data);

/// Encodes evidence with the canonical certificate table encoding (no table when
/// `certificates` is empty). Precondition: report.size() == kReportSize.
Bytes encode_evidence(ByteView report, const CertTable& certificates);

}  // namespace atls::attest::snp
