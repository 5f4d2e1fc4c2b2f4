#pragma once
// Named failures of SEV-SNP evidence decoding and verification (docs/verification.md §2.3).
// Every distinct check has its own code; the names ("snp.chip_id_mismatch") appear in metrics
// and audit logs, so they are stable. src/attest/snp/README.md lists where each one is raised.

#include "core/error.h"

namespace atls::attest::snp {

enum class Errc {
  // Evidence container (docs/protocol.md §7).
  EvidenceTruncated = 1,
  EvidenceBadMagic,
  UnsupportedEvidenceVersion,
  EvidenceReservedNonzero,
  EvidenceBadReportLength,
  EvidenceTooLarge,
  EvidenceTrailingBytes,
  // Certificate table (GHCB spec §4.1.8.1 / SNP_GET_EXT_REPORT / configfs-tsm auxblob).
  CertTableTruncated,
  CertTableUnterminated,
  CertTableTooManyEntries,
  CertTableEntryOutOfBounds,
  CertTableEntriesOverlap,
  CertTableDuplicateGuid,
  CertTableEmptyEntry,
  CertTablePaddingNonzero,
  // ATTESTATION_REPORT structure (SEV-SNP ABI spec table 23 in rev 1.55+).
  ReportTruncated,
  ReportTrailingBytes,
  UnsupportedReportVersion,
  UnsupportedSignatureAlgorithm,
  ReportReservedNonzero,
  InvalidGuestPolicy,
  InvalidSigningKey,
  ReportNotSigned,
  UnknownProduct,
  // Certificates (AMD KDS spec; verification.md §2.2).
  CertificateMissing,
  CertificateMalformed,
  CertificateExtensionMalformed,
  CertificateExtensionMissing,
  LeafKeyInvalid,
  ProductMismatch,
  SignerMismatch,
  ArkNotPinned,
  TrustAnchorInvalid,
  AskSignatureInvalid,
  AsvkSignatureInvalid,
  VcekSignatureInvalid,
  VlekSignatureInvalid,
  CertificateExpired,
  CertificateNotYetValid,
  CertificateRevoked,
  CrlMalformed,
  CrlSignatureInvalid,
  CrlExpired,
  // Binding of the certificate to the report, and the report signature.
  ChipIdMasked,
  ChipIdMismatch,
  TcbMismatch,
  ReportSignatureInvalid,
  ReportDataMismatch,
  // Misuse.
  UnsupportedAttestationType,
  InternalError,
  // Evidence generation (snp_attester.h; verification.md §5.1–5.2). Configfs-tsm failures keep
  // their own "tsm.*" codes.
  GenerationUnavailable,
  DeviceOpenFailed,
  DeviceRequestFailed,
  DeviceBusy,
  DeviceCertBufferTooLarge,
  FirmwareError,
  GeneratedReportInvalid,
  GeneratedReportDataMismatch,
  GeneratedVmplMismatch,
  GeneratedCertTableInvalid,
  // AMD KDS certificate service (kds_client.h, certificate_cache.h; verification.md §2.4).
  KdsInvalidBaseUrl,
  KdsUnreachable,
  KdsRateLimited,
  KdsBackoff,
  KdsCircuitOpen,
  KdsNotFound,
  KdsRequestRejected,
  KdsHttpStatus,
  KdsResponseInvalid,
  CertificateCacheUnavailable,
  // Revocation with CRLs kept fresh at run time (crl.h; SnpVerifierOptions::crl_products).
  // Appended here so that the values of the codes above do not change.
  CrlMissing,
  CrlRollback,
};

ATLS_DECLARE_ERRC(Errc, snp_category)

}  // namespace atls::attest::snp

ATLS_REGISTER_ERRC(atls::attest::snp::Errc);
