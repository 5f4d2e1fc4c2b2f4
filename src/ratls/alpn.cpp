#include "ratls/alpn.h"

#include <algorithm>

namespace atls::ratls {

std::vector<std::string> ratls_alpn_list(std::span<const std::string> inner) {
  std::vector<std::string> out;
  out.reserve(inner.size() + 1);
  for (const auto& protocol : inner) {
    out.push_back(std::string(kProtocolV1) + "+" + protocol);
  }
  out.emplace_back(kProtocolV1);
  return out;
}

std::vector<std::string> with_http_protocols(std::vector<std::string> inner) {
  for (std::string_view required : {kAlpnH2, kAlpnHttp11}) {
    if (std::find(inner.begin(), inner.end(), required) == inner.end()) {
      inner.emplace_back(required);
    }
  }
  return inner;
}

bool is_ratls_protocol(std::string_view negotiated) noexcept {
  if (!negotiated.starts_with(kProtocolV1)) {
    return false;
  }
  const auto rest = negotiated.substr(kProtocolV1.size());
  return rest.empty() || rest.front() == '+';
}

HttpVersion http_version_for(std::string_view negotiated) noexcept {
  return negotiated.ends_with(kAlpnH2) ? HttpVersion::Http2 : HttpVersion::Http1;
}

}  // namespace atls::ratls
