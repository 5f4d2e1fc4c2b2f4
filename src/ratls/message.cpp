#include "ratls/message.h"

#include "ratls/errors.h"

namespace atls::ratls {
namespace {

// SCALE compact modes (low two bits of the first byte).
constexpr std::uint64_t kSingleByteLimit = 1ULL << 6;
constexpr std::uint64_t kTwoByteLimit = 1ULL << 14;
constexpr std::uint64_t kFourByteLimit = 1ULL << 30;

void append_le(Bytes& out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

std::uint64_t read_le(ByteView in, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  }
  return value;
}

Result<ByteView> read_field(ByteView& in) {
  auto length = read_compact(in);
  if (!length) {
    return length.error();
  }
  if (*length > in.size()) {
    return make_error_code(Errc::FieldOverrun);
  }
  const auto size = static_cast<std::size_t>(*length);
  ByteView field = in.first(size);
  in = in.subspan(size);
  return field;
}

}  // namespace

void append_compact(Bytes& out, std::uint64_t value) {
  if (value < kSingleByteLimit) {
    out.push_back(static_cast<std::uint8_t>(value << 2));
  } else if (value < kTwoByteLimit) {
    append_le(out, (value << 2) | 0b01, 2);
  } else if (value < kFourByteLimit) {
    append_le(out, (value << 2) | 0b10, 4);
  } else {
    std::size_t width = 4;
    while (width < 8 && (value >> (8 * width)) != 0) {
      ++width;
    }
    out.push_back(static_cast<std::uint8_t>(((width - 4) << 2) | 0b11));
    append_le(out, value, width);
  }
}

Result<std::uint64_t> read_compact(ByteView& in) {
  if (in.empty()) {
    return make_error_code(Errc::FieldOverrun);
  }
  const std::uint8_t mode = in[0] & 0b11;
  std::size_t width = 0;
  std::uint64_t value = 0;
  switch (mode) {
    case 0b00:
      width = 1;
      value = in[0] >> 2;
      break;
    case 0b01:
      width = 2;
      if (in.size() < width) {
        return make_error_code(Errc::FieldOverrun);
      }
      value = read_le(in, 2) >> 2;
      if (value < kSingleByteLimit) {
        return make_error_code(Errc::CompactNonMinimal);
      }
      break;
    case 0b10:
      width = 4;
      if (in.size() < width) {
        return make_error_code(Errc::FieldOverrun);
      }
      value = read_le(in, 4) >> 2;
      if (value < kTwoByteLimit) {
        return make_error_code(Errc::CompactNonMinimal);
      }
      break;
    default: {
      // Big-integer mode: upper six bits + 4 = number of little-endian bytes that follow.
      const std::size_t bytes = static_cast<std::size_t>(in[0] >> 2) + 4;
      if (bytes > 8) {
        return make_error_code(Errc::CompactInvalid);
      }
      width = 1 + bytes;
      if (in.size() < width) {
        return make_error_code(Errc::FieldOverrun);
      }
      value = read_le(in.subspan(1), bytes);
      // Minimal: the value needs this mode and its top byte is non-zero.
      if (value < kFourByteLimit || (value >> (8 * (bytes - 1))) == 0) {
        return make_error_code(Errc::CompactNonMinimal);
      }
      break;
    }
  }
  in = in.subspan(width);
  return value;
}

Bytes encode_message(const AttestationMessage& message) {
  const std::string_view type = attest::to_string(message.type);
  Bytes out;
  out.reserve(type.size() + message.evidence.size() + 10);
  append_compact(out, type.size());
  out.insert(out.end(), type.begin(), type.end());
  append_compact(out, message.evidence.size());
  out.insert(out.end(), message.evidence.begin(), message.evidence.end());
  return out;
}

Result<AttestationMessage> decode_message(ByteView in) {
  auto type_bytes = read_field(in);
  if (!type_bytes) {
    return type_bytes.error();
  }
  const std::string_view type_text(reinterpret_cast<const char*>(type_bytes->data()),
                                   type_bytes->size());
  const auto type = attest::parse_attestation_type(type_text);
  if (!type) {
    return make_error_code(Errc::UnknownAttestationType);
  }
  auto evidence = read_field(in);
  if (!evidence) {
    return evidence.error();
  }
  if (!in.empty()) {
    return make_error_code(Errc::TrailingBytes);
  }
  return AttestationMessage{*type, Bytes(evidence->begin(), evidence->end())};
}

Result<Bytes> encode_frame(const AttestationMessage& message) {
  Bytes body = encode_message(message);
  if (body.size() > kMaxFrameLength) {
    return make_error_code(Errc::FrameTooLarge);
  }
  Bytes frame;
  frame.reserve(kFrameHeaderSize + body.size());
  const auto length = static_cast<std::uint32_t>(body.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    frame.push_back(static_cast<std::uint8_t>(length >> shift));
  }
  frame.insert(frame.end(), body.begin(), body.end());
  return frame;
}

Result<std::size_t> parse_frame_header(const std::array<std::uint8_t, kFrameHeaderSize>& header) {
  const std::uint32_t length = (static_cast<std::uint32_t>(header[0]) << 24) |
                               (static_cast<std::uint32_t>(header[1]) << 16) |
                               (static_cast<std::uint32_t>(header[2]) << 8) | header[3];
  if (length > kMaxFrameLength) {
    return make_error_code(Errc::FrameTooLarge);
  }
  return static_cast<std::size_t>(length);
}

}  // namespace atls::ratls
