#pragma once
// Byte buffers and hex encoding used across modules.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atls {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// Lowercase hex of `data`.
std::string to_hex(ByteView data);

/// The value of one hex digit (either case), or -1 for any other character.
int hex_digit_value(char c) noexcept;

/// Decodes hex (either case, even length, no prefix, no whitespace). nullopt on any bad input.
std::optional<Bytes> from_hex(std::string_view text);

/// Decodes standard or URL-safe base64, with or without padding; whitespace is ignored.
/// nullopt on any other character or an impossible length.
std::optional<Bytes> from_base64(std::string_view text);

/// Reads evidence given by an operator: hex text (optional "0x", whitespace ignored), base64
/// text, or anything else as raw bytes.
Bytes decode_evidence_text(ByteView content);

/// Views a string's characters as bytes (no copy).
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Constant-time equality for secrets and bound values of equal public length.
bool equal_constant_time(ByteView a, ByteView b) noexcept;

}  // namespace atls
