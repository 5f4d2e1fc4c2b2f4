#include "tls/alpn.h"

#include <algorithm>

namespace atls::tls {

Bytes alpn_wire(std::span<const std::string> protocols) {
  Bytes out;
  for (const auto& protocol : protocols) {
    out.push_back(static_cast<std::uint8_t>(protocol.size()));
    out.insert(out.end(), protocol.begin(), protocol.end());
  }
  return out;
}

std::optional<std::string> select_alpn(std::span<const std::string> server_preference,
                                       ByteView client_offer) {
  std::vector<std::string_view> offered;
  for (std::size_t i = 0; i < client_offer.size();) {
    const std::size_t length = client_offer[i];
    if (length == 0 || i + 1 + length > client_offer.size()) {
      return std::nullopt;
    }
    offered.emplace_back(reinterpret_cast<const char*>(client_offer.data() + i + 1), length);
    i += 1 + length;
  }
  for (const auto& candidate : server_preference) {
    if (std::find(offered.begin(), offered.end(), candidate) != offered.end()) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace atls::tls
