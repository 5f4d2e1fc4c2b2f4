#pragma once
// The Intel Quote Generation Service (QGS) GET_QUOTE messages and their two transports
// (docs/verification.md §5.3; Intel DCAP QuoteGeneration/quote_wrapper/qgs_msg_lib):
//
//   header (16 bytes, little-endian): major_version u16 = 1, minor_version u16, type u32,
//       size u32 (the whole message, header included), error_code u32 (responses only)
//   GET_QUOTE_REQ  (type 0): header, report_size u32, id_list_size u32, report, id list
//   GET_QUOTE_RESP (type 1): header, selected_id_size u32, quote_size u32, selected id, quote
//
// On a stream socket each message is preceded by its length as a 4-byte big-endian number. The
// legacy TDX_CMD_GET_QUOTE ioctl carries exactly those framed bytes as the payload of its
// GetQuote buffer (tdx_guest_device.h), in both directions.
//
// Everything here is pure. The responses come from the host, which is outside the TD's trust
// boundary: decoding checks every length against the message size (64-bit sums, no overflow),
// never reads out of bounds and names each failure (tdx_gen.qgs_*). Only the major version is
// checked, as Intel's library does (minor versions are compatible: QGS answers 1.1 today).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "attest/tdx_gen/tdx_guest_device.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx_gen {

inline constexpr std::uint16_t kQgsMajorVersion = 1;
/// The minor version of the requests sent (verification.md §5.3; QGS accepts any minor).
inline constexpr std::uint16_t kQgsMinorVersion = 0;
inline constexpr std::uint32_t kQgsGetQuoteRequest = 0;
inline constexpr std::uint32_t kQgsGetQuoteResponse = 1;
inline constexpr std::size_t kQgsHeaderSize = 16;
/// Header plus the two u32 size fields of GET_QUOTE_REQ / GET_QUOTE_RESP.
inline constexpr std::size_t kQgsGetQuoteFixedSize = 24;
/// The big-endian length before each message on a stream.
inline constexpr std::size_t kQgsFrameLengthSize = 4;

/// A decoded GET_QUOTE_RESP with error_code 0.
struct QgsQuoteResponse {
  std::uint16_t minor_version = 0;
  Bytes selected_id;  ///< empty unless the request listed attestation key ids (we list none)
  Bytes quote;        ///< never empty
};

/// GET_QUOTE_REQ for `report` with an empty id list (the QGS picks Intel's TD quoting enclave).
Bytes encode_get_quote_request(const TdReport& report);

/// The GET_QUOTE_RESP in `message` (without the length prefix). Checks, in order: at least the
/// header (qgs_message_truncated), major version 1 (qgs_message_version_unsupported), type 1
/// (qgs_message_type_unexpected), header.size == message size (qgs_message_size_mismatch),
/// error_code 0 (else qgs_error_response with the code in the detail, whatever the rest holds),
/// the fixed fields (qgs_message_truncated), 24 + selected_id_size + quote_size == size
/// (qgs_message_size_mismatch), quote_size > 0 (qgs_quote_empty).
Outcome<QgsQuoteResponse> decode_get_quote_response(ByteView message);

/// The inverse operations, for fake quoting services in tests and for fuzzing round trips.
/// decode_get_quote_request returns the report (any report_size > 0; the id list is skipped);
/// errors as for the response, with type 0 expected and error_code ignored.
Outcome<Bytes> decode_get_quote_request(ByteView message);
/// A response with `error_code` != 0 carries neither id nor quote (as Intel's QGS sends it).
Bytes encode_get_quote_response(ByteView quote, ByteView selected_id = {},
                                std::uint32_t error_code = 0);

/// `message` preceded by its length, 4 bytes big-endian. Precondition: size < 2^32.
Bytes frame_qgs_message(ByteView message);
/// The big-endian length prefix.
std::uint32_t read_frame_length(std::span<const std::uint8_t, kQgsFrameLengthSize> prefix) noexcept;

/// The TDX_CMD_GET_QUOTE buffer for `qgs_message`: GetQuoteHeader {version 1, status 0,
/// in_len = 4 + message size, out_len 0}, the framed message, zeros up to `buffer_size` (the
/// host may write up to that much back; zeros leak nothing). Precondition: the framed message
/// fits, buffer_size >= kGetQuoteHeaderSize.
Bytes encode_get_quote_buffer(ByteView qgs_message, std::size_t buffer_size = kGetQuoteBufferSize);
/// The header of a GetQuote buffer. Precondition: buffer.size() >= kGetQuoteHeaderSize.
GetQuoteHeader read_get_quote_header(ByteView buffer) noexcept;
/// The QGS message the host wrote back into a GetQuote buffer (status already checked by the
/// caller): out_len must fit the buffer, cover the length prefix, and equal 4 + that length.
/// The result is a view into `buffer`.
/// Errors: tdx_gen.device_quote_response_invalid (the inconsistency in the detail).
Outcome<ByteView> get_quote_buffer_message(ByteView buffer);

/// "GET_QUOTE_ERROR", "GET_QUOTE_SERVICE_UNAVAILABLE", ... or the value in hex.
std::string get_quote_status_name(std::uint64_t status);

}  // namespace atls::attest::tdx_gen
