#include "sts/jose/base64url.h"

#include <array>
#include <cstdint>

#include "sts/jose/errors.h"

namespace atls::sts::jose {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) {
    entry = kInvalid;
  }
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kDecode = make_decode_table();

}  // namespace

std::string base64url_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out += kAlphabet[(v >> 18) & 0x3f];
    out += kAlphabet[(v >> 12) & 0x3f];
    out += kAlphabet[(v >> 6) & 0x3f];
    out += kAlphabet[v & 0x3f];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 0x3f];
    out += kAlphabet[(v >> 12) & 0x3f];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 0x3f];
    out += kAlphabet[(v >> 12) & 0x3f];
    out += kAlphabet[(v >> 6) & 0x3f];
  }
  return out;
}

Result<Bytes> base64url_decode(std::string_view text) {
  // One leftover character carries only 6 bits: no byte string encodes to that length.
  if (text.size() % 4 == 1) {
    return make_error_code(Errc::Base64urlInvalid);
  }
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int pending = 0;  // bits accumulated in `bits` not yet emitted
  for (const char c : text) {
    const std::uint8_t value = kDecode[static_cast<unsigned char>(c)];
    if (value == kInvalid) {
      return make_error_code(Errc::Base64urlInvalid);
    }
    bits = (bits << 6) | value;
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out.push_back(static_cast<std::uint8_t>((bits >> pending) & 0xff));
    }
  }
  // 2 or 4 bits are left over after a partial final group; RFC 4648 §3.5 lets decoders reject
  // encodings where they are not zero, and JOSE values are canonical only if we do.
  if (pending > 0 && (bits & ((1U << pending) - 1)) != 0) {
    return make_error_code(Errc::Base64urlInvalid);
  }
  return out;
}

}  // namespace atls::sts::jose
