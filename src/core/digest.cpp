#include "core/digest.h"

#include <openssl/sha.h>

namespace atls {

Sha256Digest sha256(ByteView data) noexcept {
  Sha256Digest out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

std::string sha256_hex(std::string_view text) {
  const auto digest =
      sha256(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  return to_hex(ByteView(digest.data(), digest.size()));
}

}  // namespace atls
