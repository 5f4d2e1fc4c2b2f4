#include "proxy/pg/tunnel.h"

#include <fmt/format.h>

#include <algorithm>

#include "http/semantics.h"
#include "net/address.h"

namespace atls::proxy::pg {

http::RequestHead make_tunnel_request(const boost::asio::ip::tcp::endpoint& source) {
  http::RequestHead request;
  request.method = "CONNECT";
  request.authority = std::string(kTunnelAuthority);
  request.version = http::Version::Http2;
  const auto address = source.address();
  request.headers.add(kSourceAddressField,
                      address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), source.port())
                                      : fmt::format("{}:{}", address.to_string(), source.port()));
  return request;
}

std::optional<boost::asio::ip::tcp::endpoint> tunnel_source(const http::RequestHead& request) {
  std::optional<std::string_view> value;
  for (const auto& field : request.headers) {
    if (field.name == kSourceAddressField) {
      if (value) {
        return std::nullopt;  // repeated: ambiguous
      }
      value = field.value;
    }
  }
  if (!value) {
    return std::nullopt;
  }
  // Exactly the form make_tunnel_request writes: "a.b.c.d:port" or "[v6]:port". An unbracketed
  // IPv6 address ("::1:5") is ambiguous about where the port starts.
  const auto colons = std::count(value->begin(), value->end(), ':');
  if (colons > 1 && !value->starts_with('[')) {
    return std::nullopt;
  }
  auto endpoint = net::parse_socket_address(*value);
  if (!endpoint) {
    return std::nullopt;
  }
  return *endpoint;
}

bool is_tunnel_request(const http::RequestHead& request) {
  return http::is_tunnel_connect(request) && request.authority == kTunnelAuthority;
}

}  // namespace atls::proxy::pg
