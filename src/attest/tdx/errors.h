#pragma once
// Named failures of Intel TDX DCAP quote parsing and verification (docs/verification.md §1,
// interop spec §4.2 and §5.2). Every distinct check has its own code; the names ("tdx.<name>")
// are stable because they appear in metrics and audit logs. The table, with the check that
// produces each code, is in src/attest/tdx/README.md.

#include "core/error.h"

namespace atls::attest::tdx {

enum class Errc {
  // Quote structure (verification.md §1.1, interop §4.2).
  QuoteTruncated = 1,
  UnsupportedQuoteVersion,
  UnsupportedKeyType,
  SgxQuoteNotSupported,
  NotTdx,
  UnsupportedBodyType,
  BodySizeMismatch,
  UnsupportedCertificationDataType,
  CertificationDataSizeMismatch,
  UnsupportedPckCertDataType,
  QeVendorNotIntel,
  // PCK certificate chain from the quote (§1.2, §1.3 steps 2-5).
  PckChainMalformed,
  PckChainLengthInvalid,
  PckCaTypeUnknown,
  PckExtensionMissing,
  PckExtensionMalformed,
  RootNotTrusted,
  PckChainInvalid,
  PckCertExpired,
  PckCertNotYetValid,
  PckCaRevoked,
  PckCrlIssuerMismatch,
  PckRevoked,
  // Collateral structure.
  CollateralUnavailable,
  CollateralMalformed,
  CollateralChainMalformed,
  CrlMalformed,
  TcbInfoMalformed,
  QeIdentityMalformed,
  // Collateral authenticity and freshness (§1.3 steps 5-7, interop §5.2 step 3).
  RootCrlSignatureInvalid,
  RootCrlExpired,
  RootCrlNotYetValid,
  RootRevoked,
  CollateralRootMismatch,
  CollateralCertExpired,
  CollateralCertNotYetValid,
  CollateralSignerRevoked,
  PckCrlChainInvalid,
  PckCrlSignatureInvalid,
  PckCrlExpired,
  PckCrlNotYetValid,
  TcbInfoExpired,
  TcbInfoNotYetValid,
  TcbInfoChainInvalid,
  TcbInfoSignatureInvalid,
  TcbInfoNotTdx,
  UnsupportedTcbInfoVersion,
  QeIdentityExpired,
  QeIdentityNotYetValid,
  QeIdentityChainInvalid,
  QeIdentitySignatureInvalid,
  QeIdentityNotTdQe,
  UnsupportedQeIdentityVersion,
  // Quoting enclave (§1.3 steps 9-11).
  QeReportSignatureInvalid,
  QeAuthDataSizeInvalid,
  QeReportDataMismatch,
  QeMrsignerMismatch,
  QeIsvprodidMismatch,
  QeMiscselectMismatch,
  QeAttributesMismatch,
  QeDebugEnabled,
  QeTcbNotSupported,
  // Quote signature (§1.3 step 12).
  AttestationKeyInvalid,
  QuoteSignatureInvalid,
  // Platform TCB (§1.3 steps 6, 8, 13 and §1.4).
  FmspcMismatch,
  PceidMismatch,
  TdxModuleIdentityNotFound,
  TdxModuleMismatch,
  SeamAttributesInvalid,
  NoMatchingTcbLevel,
  NoMatchingTdxTcbLevel,
  NoMatchingTdxModuleLevel,
  TcbRevoked,
  // TD checks (interop §5.2 step 13, §5.2 step 5).
  TdDebugEnabled,
  TdAttributesInvalid,
  TdSeptVeDisableMissing,
  MrServiceTdNotZero,
  ReportDataMismatch,
  // Verifier dispatch and environment.
  UnsupportedAttestationType,
  RootPinMismatch,
  CryptoFailure,
};

ATLS_DECLARE_ERRC(Errc, tdx_category)

}  // namespace atls::attest::tdx

ATLS_REGISTER_ERRC(atls::attest::tdx::Errc);
