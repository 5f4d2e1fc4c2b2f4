#pragma once
// Little-endian loads and stores for the SEV-SNP structures (every integer in the SNP ABI and
// the GHCB certificate table is little-endian). Callers check bounds first.

#include <cstddef>
#include <cstdint>

#include "core/bytes.h"

namespace atls::attest::snp::detail {

inline std::uint32_t load_le32(ByteView data, std::size_t offset) noexcept {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= static_cast<std::uint32_t>(data[offset + i]) << (8 * i);
  }
  return value;
}

inline std::uint64_t load_le64(ByteView data, std::size_t offset) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value |= static_cast<std::uint64_t>(data[offset + i]) << (8 * i);
  }
  return value;
}

inline void store_le16(std::uint8_t* out, std::uint16_t value) noexcept {
  out[0] = static_cast<std::uint8_t>(value);
  out[1] = static_cast<std::uint8_t>(value >> 8);
}

inline void store_le32(std::uint8_t* out, std::uint32_t value) noexcept {
  for (std::size_t i = 0; i < 4; ++i) {
    out[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

inline void store_le64(std::uint8_t* out, std::uint64_t value) noexcept {
  for (std::size_t i = 0; i < 8; ++i) {
    out[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

inline bool all_zero(ByteView data) noexcept {
  for (const auto byte : data) {
    if (byte != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace atls::attest::snp::detail
