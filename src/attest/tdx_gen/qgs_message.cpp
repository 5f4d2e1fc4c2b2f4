#include "attest/tdx_gen/qgs_message.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "attest/tdx_gen/errors.h"

namespace atls::attest::tdx_gen {
namespace {

// Little-endian fields: the QGS message layout is the packed C struct of qgs_msg_lib.h on x86.
std::uint16_t qgs_load16(ByteView bytes, std::size_t offset) {
  return static_cast<std::uint16_t>(bytes[offset] | (bytes[offset + 1] << 8));
}

std::uint32_t qgs_load32(ByteView bytes, std::size_t offset) {
  return static_cast<std::uint32_t>(bytes[offset]) |
         (static_cast<std::uint32_t>(bytes[offset + 1]) << 8) |
         (static_cast<std::uint32_t>(bytes[offset + 2]) << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 3]) << 24);
}

std::uint64_t qgs_load64(ByteView bytes, std::size_t offset) {
  return static_cast<std::uint64_t>(qgs_load32(bytes, offset)) |
         (static_cast<std::uint64_t>(qgs_load32(bytes, offset + 4)) << 32);
}

void qgs_store16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void qgs_store32(Bytes& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

void qgs_store64(Bytes& out, std::uint64_t value) {
  qgs_store32(out, static_cast<std::uint32_t>(value));
  qgs_store32(out, static_cast<std::uint32_t>(value >> 32));
}

void qgs_store_header(Bytes& out, std::uint32_t type, std::size_t size, std::uint32_t error_code) {
  qgs_store16(out, kQgsMajorVersion);
  qgs_store16(out, kQgsMinorVersion);
  qgs_store32(out, type);
  qgs_store32(out, static_cast<std::uint32_t>(size));
  qgs_store32(out, error_code);
}

// qgs_msg_lib's own error codes (QGS_MSG_MK_ERROR(x) = 0x12000 | x); the QGS sends them back
// when it cannot parse a request. Anything else comes from the quote library behind it.
std::string qgs_error_text(std::uint32_t code) {
  static constexpr std::array<std::string_view, 8> kNames{"",
                                                          "UNEXPECTED",
                                                          "OUT_OF_MEMORY",
                                                          "INVALID_PARAMETER",
                                                          "INVALID_VERSION",
                                                          "INVALID_TYPE",
                                                          "INVALID_SIZE",
                                                          "INVALID_CODE"};
  std::string text = fmt::format("QGS error code {:#x}", code);
  if ((code & ~0xFFFU) == 0x12000U && (code & 0xFFFU) > 0 && (code & 0xFFFU) < kNames.size()) {
    text += fmt::format(" (QGS_MSG_ERROR_{})", kNames[code & 0xFFFU]);
  }
  return text;
}

struct QgsHeader {
  std::uint16_t major_version = 0;
  std::uint16_t minor_version = 0;
  std::uint32_t type = 0;
  std::uint32_t size = 0;
  std::uint32_t error_code = 0;
};

// The checks every message shares: header present, major version, type, declared size.
Outcome<QgsHeader> qgs_check_header(ByteView message, std::uint32_t expected_type) {
  if (message.size() < kQgsHeaderSize) {
    return tdx_gen_failure(Errc::QgsMessageTruncated, fmt::format("{} bytes, the header needs {}",
                                                                  message.size(), kQgsHeaderSize));
  }
  QgsHeader header;
  header.major_version = qgs_load16(message, 0);
  header.minor_version = qgs_load16(message, 2);
  header.type = qgs_load32(message, 4);
  header.size = qgs_load32(message, 8);
  header.error_code = qgs_load32(message, 12);
  if (header.major_version != kQgsMajorVersion) {
    return tdx_gen_failure(
        Errc::QgsMessageVersionUnsupported,
        fmt::format("version {}.{}", header.major_version, header.minor_version));
  }
  if (header.type != expected_type) {
    return tdx_gen_failure(Errc::QgsMessageTypeUnexpected,
                           fmt::format("type {}, expected {}", header.type, expected_type));
  }
  if (header.size != message.size()) {
    return tdx_gen_failure(
        Errc::QgsMessageSizeMismatch,
        fmt::format("header size {}, message of {} bytes", header.size, message.size()));
  }
  return header;
}

// The two u32 sizes after the header and the parts they declare, which must fill the message
// exactly. Sums are 64-bit, so declared sizes near 2^32 cannot wrap around.
struct QgsParts {
  ByteView first;
  ByteView second;
};

Outcome<QgsParts> qgs_split_parts(ByteView message) {
  if (message.size() < kQgsGetQuoteFixedSize) {
    return tdx_gen_failure(
        Errc::QgsMessageTruncated,
        fmt::format("{} bytes, the fixed fields need {}", message.size(), kQgsGetQuoteFixedSize));
  }
  const std::uint64_t first = qgs_load32(message, 16);
  const std::uint64_t second = qgs_load32(message, 20);
  if (kQgsGetQuoteFixedSize + first + second != message.size()) {
    return tdx_gen_failure(Errc::QgsMessageSizeMismatch,
                           fmt::format("{} + {} + {} bytes declared, message of {}",
                                       kQgsGetQuoteFixedSize, first, second, message.size()));
  }
  const ByteView body = message.subspan(kQgsGetQuoteFixedSize);
  return QgsParts{body.first(static_cast<std::size_t>(first)),
                  body.subspan(static_cast<std::size_t>(first))};
}

}  // namespace

Bytes encode_get_quote_request(const TdReport& report) {
  Bytes out;
  const std::size_t size = kQgsGetQuoteFixedSize + report.size();
  out.reserve(size);
  qgs_store_header(out, kQgsGetQuoteRequest, size, 0);
  qgs_store32(out, static_cast<std::uint32_t>(report.size()));
  qgs_store32(out, 0);  // id_list_size: no attestation key ids, the QGS default (Intel TDQE)
  out.insert(out.end(), report.begin(), report.end());
  return out;
}

Outcome<QgsQuoteResponse> decode_get_quote_response(ByteView message) {
  auto header = qgs_check_header(message, kQgsGetQuoteResponse);
  if (!header) {
    return header.error();
  }
  // An error response is header-sized plus two zero sizes; its error code is what the operator
  // needs, whatever else the message holds.
  if (header->error_code != 0) {
    return tdx_gen_failure(Errc::QgsErrorResponse, qgs_error_text(header->error_code));
  }
  auto parts = qgs_split_parts(message);
  if (!parts) {
    return parts.error();
  }
  if (parts->second.empty()) {
    return tdx_gen_failure(Errc::QgsQuoteEmpty);
  }
  QgsQuoteResponse response;
  response.minor_version = header->minor_version;
  response.selected_id.assign(parts->first.begin(), parts->first.end());
  response.quote.assign(parts->second.begin(), parts->second.end());
  return response;
}

Outcome<Bytes> decode_get_quote_request(ByteView message) {
  auto header = qgs_check_header(message, kQgsGetQuoteRequest);
  if (!header) {
    return header.error();
  }
  auto parts = qgs_split_parts(message);
  if (!parts) {
    return parts.error();
  }
  if (parts->first.empty()) {
    return tdx_gen_failure(Errc::QgsMessageSizeMismatch, "report_size 0");
  }
  return Bytes(parts->first.begin(), parts->first.end());
}

Bytes encode_get_quote_response(ByteView quote, ByteView selected_id, std::uint32_t error_code) {
  if (error_code != 0) {
    quote = {};
    selected_id = {};
  }
  Bytes out;
  const std::size_t size = kQgsGetQuoteFixedSize + selected_id.size() + quote.size();
  out.reserve(size);
  qgs_store_header(out, kQgsGetQuoteResponse, size, error_code);
  qgs_store32(out, static_cast<std::uint32_t>(selected_id.size()));
  qgs_store32(out, static_cast<std::uint32_t>(quote.size()));
  out.insert(out.end(), selected_id.begin(), selected_id.end());
  out.insert(out.end(), quote.begin(), quote.end());
  return out;
}

Bytes frame_qgs_message(ByteView message) {
  Bytes out;
  out.reserve(kQgsFrameLengthSize + message.size());
  const auto size = static_cast<std::uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(size >> shift));
  }
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

std::uint32_t read_frame_length(
    std::span<const std::uint8_t, kQgsFrameLengthSize> prefix) noexcept {
  return (static_cast<std::uint32_t>(prefix[0]) << 24) |
         (static_cast<std::uint32_t>(prefix[1]) << 16) |
         (static_cast<std::uint32_t>(prefix[2]) << 8) | static_cast<std::uint32_t>(prefix[3]);
}

Bytes encode_get_quote_buffer(ByteView qgs_message, std::size_t buffer_size) {
  Bytes out;
  out.reserve(buffer_size);
  qgs_store64(out, kGetQuoteVersion);
  qgs_store64(out, kGetQuoteSuccess);  // status: written by the VMM
  qgs_store32(out, static_cast<std::uint32_t>(kQgsFrameLengthSize + qgs_message.size()));
  qgs_store32(out, 0);  // out_len: written by the VMM
  const Bytes framed = frame_qgs_message(qgs_message);
  out.insert(out.end(), framed.begin(), framed.end());
  out.resize(std::max(buffer_size, out.size()), 0);
  return out;
}

GetQuoteHeader read_get_quote_header(ByteView buffer) noexcept {
  GetQuoteHeader header{};
  header.version = qgs_load64(buffer, 0);
  header.status = qgs_load64(buffer, 8);
  header.in_len = qgs_load32(buffer, 16);
  header.out_len = qgs_load32(buffer, 20);
  return header;
}

Outcome<ByteView> get_quote_buffer_message(ByteView buffer) {
  if (buffer.size() < kGetQuoteHeaderSize) {
    return tdx_gen_failure(Errc::DeviceQuoteResponseInvalid,
                           fmt::format("buffer of {} bytes", buffer.size()));
  }
  const GetQuoteHeader header = read_get_quote_header(buffer);
  const ByteView payload = buffer.subspan(kGetQuoteHeaderSize);
  if (header.out_len > payload.size()) {
    return tdx_gen_failure(
        Errc::DeviceQuoteResponseInvalid,
        fmt::format("out_len {} exceeds the {} payload bytes", header.out_len, payload.size()));
  }
  if (header.out_len < kQgsFrameLengthSize) {
    return tdx_gen_failure(Errc::DeviceQuoteResponseInvalid,
                           fmt::format("out_len {} has no length prefix", header.out_len));
  }
  const std::uint32_t length = read_frame_length(payload.first<kQgsFrameLengthSize>());
  if (static_cast<std::uint64_t>(length) + kQgsFrameLengthSize != header.out_len) {
    return tdx_gen_failure(Errc::DeviceQuoteResponseInvalid,
                           fmt::format("length prefix {} with out_len {}", length, header.out_len));
  }
  return payload.subspan(kQgsFrameLengthSize, length);
}

std::string get_quote_status_name(std::uint64_t status) {
  switch (status) {
    case kGetQuoteSuccess: return "GET_QUOTE_SUCCESS";
    case kGetQuoteInFlight: return "GET_QUOTE_IN_FLIGHT";
    case kGetQuoteError: return "GET_QUOTE_ERROR";
    case kGetQuoteServiceUnavailable: return "GET_QUOTE_SERVICE_UNAVAILABLE";
    default: return fmt::format("status {:#x}", status);
  }
}

}  // namespace atls::attest::tdx_gen
