#pragma once
// Named failures of TDX evidence generation (tdx_attester.h; docs/verification.md §5.1, §5.3,
// interop spec §4.4). Configfs-tsm failures keep their own "tsm.*" codes; these cover what this
// module adds: the type, the /dev/tdx_guest ioctls, the QGS message and socket, and the check of
// the generated quote before it leaves the machine. The names ("tdx_gen.qgs_connect_failed")
// appear in logs and metrics, so they are stable.

#include <string>

#include "core/error.h"

namespace atls::attest::tdx_gen {

enum class Errc {
  /// The attester was asked for a type it does not produce (only dcap-tdx, gcp-tdx, qemu-tdx;
  /// azure-tdx evidence is a vTPM document, interop spec §4.3).
  UnsupportedAttestationType = 1,
  /// The generated quote does not parse as a DCAP quote (the tdx.* parser error in the detail).
  GeneratedQuoteInvalid,
  /// The generated quote is a quote, but not a TDX one (SGX quote, other TEE type).
  GeneratedQuoteNotTdx,
  /// The generated quote is larger than TdxAttesterOptions::max_quote_size.
  GeneratedQuoteTooLarge,
  /// The quote's REPORTDATA is not the 64 bytes this request asked for.
  GeneratedReportDataMismatch,

  // Backend selection (TdxBackend::Auto).
  /// Neither configfs-tsm nor the TDX guest device exists here: not a TDX guest.
  GenerationUnavailable,

  // /dev/tdx_guest (verification.md §5.3).
  /// open() of the TDX guest device failed (errno in the detail).
  DeviceOpenFailed,
  /// TDX_CMD_GET_REPORT0 failed (errno in the detail): no TDREPORT, so no quote either way.
  DeviceReportFailed,
  /// TDX_CMD_GET_QUOTE is not implemented by this kernel (ENOTTY/EINVAL) and the backend was
  /// DeviceQuote (Auto goes on to QGS instead).
  DeviceQuoteUnsupported,
  /// TDX_CMD_GET_QUOTE failed with another errno.
  DeviceQuoteFailed,
  /// The GetQuote status is GET_QUOTE_ERROR (or a value the GHCI does not define).
  DeviceQuoteStatusError,
  /// The GetQuote status is GET_QUOTE_SERVICE_UNAVAILABLE: the host has no quoting service.
  DeviceQuoteServiceUnavailable,
  /// The request was still in flight (status IN_FLIGHT, or EBUSY) after the bounded retries.
  DeviceQuoteInFlight,
  /// The GetQuote buffer the host returned is inconsistent (out_len, 4-byte length prefix).
  DeviceQuoteResponseInvalid,

  // QGS messages (Intel DCAP qgs_msg_lib; verification.md §5.3), from the device or a socket.
  /// Shorter than the header or the fixed response fields.
  QgsMessageTruncated,
  /// header.size differs from the message length, or from the sum of the declared parts.
  QgsMessageSizeMismatch,
  /// header.major_version is not 1.
  QgsMessageVersionUnsupported,
  /// header.type is not the one expected (GET_QUOTE_RESP = 1 for responses).
  QgsMessageTypeUnexpected,
  /// The QGS answered with a non-zero error_code (the code is in the detail).
  QgsErrorResponse,
  /// A successful response carries no quote.
  QgsQuoteEmpty,

  // The QGS socket (vsock, or unix/tcp for tests).
  /// The QGS address is not vsock:CID:PORT, unix:/path or tcp:IPV4:PORT.
  QgsAddressInvalid,
  /// socket() or connect() failed (errno in the detail).
  QgsConnectFailed,
  /// send() or recv() failed, or the QGS closed the connection before the whole response.
  QgsIoFailed,
  /// connect, or the request/response exchange, did not finish within its timeout.
  QgsTimeout,
  /// The response's length prefix exceeds the response size bound.
  QgsResponseTooLarge,
};

ATLS_DECLARE_ERRC(Errc, tdx_gen_category)

/// A Failure with this module's code (shared by the module's files: unity builds batch them).
inline Failure tdx_gen_failure(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

}  // namespace atls::attest::tdx_gen

ATLS_REGISTER_ERRC(atls::attest::tdx_gen::Errc);
