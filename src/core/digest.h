#pragma once
// SHA-256 over bytes (OpenSSL one-shot); the one digest helper for modules that are not
// verifiers (audit chain, evidence digests in logs).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace atls {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data) noexcept;

/// Lowercase hex of SHA-256(`text`).
std::string sha256_hex(std::string_view text);

}  // namespace atls
