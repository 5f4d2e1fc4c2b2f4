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

/// Decodes hex (either case, even length, no prefix, no whitespace). nullopt on any bad input.
std::optional<Bytes> from_hex(std::string_view text);

/// Views a string's characters as bytes (no copy).
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Constant-time equality for secrets and bound values of equal public length.
bool equal_constant_time(ByteView a, ByteView b) noexcept;

}  // namespace atls
