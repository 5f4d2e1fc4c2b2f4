#pragma once
// Named failures of the flashbots-ratls/1 channel (interop spec §2.4), plus the ones this
// implementation adds (strict decoding, timeouts).

#include "core/error.h"

namespace atls::ratls {

enum class Errc {
  NotTls13 = 1,
  AlpnMissing,
  NoPeerCertificate,
  FrameTooLarge,
  FrameTruncated,
  CompactInvalid,
  CompactNonMinimal,
  FieldOverrun,
  TrailingBytes,
  UnknownAttestationType,
  AttestationTypeNotAccepted,
  AttestationGivenWhenNoneExpected,
  AttestationTypeNotSupported,
  MeasurementsNotAccepted,
  TcbStatusNotAccepted,
  HandshakeTimeout,
  ExchangeTimeout,
  AttestationTimeout,
  ExporterFailed,
  PeerClosed,
};

ATLS_DECLARE_ERRC(Errc, ratls_category)

}  // namespace atls::ratls

ATLS_REGISTER_ERRC(atls::ratls::Errc);
