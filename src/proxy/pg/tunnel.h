#pragma once
// How a database connection travels over the attested channel (docs/protocol.md §6): one
// HTTP/2 CONNECT stream per TCP connection (RFC 9113 §8.5), request DATA = client -> server
// bytes, response DATA = server -> client bytes, END_STREAM = half-close, RST_STREAM = abort.

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace atls::proxy::pg {

/// :authority of every database tunnel. The proxy-server never lets the client choose where to
/// connect (that would make it an open proxy): it always uses its configured backend, and
/// refuses CONNECT to any other authority. ".invalid" (RFC 6761 §6.4) cannot be a real host.
inline constexpr std::string_view kTunnelAuthority = "pgwire.invalid:5432";

/// Request field carrying the local client's address as the proxy-client saw it ("ip:port",
/// IPv6 in brackets). Asserted by the proxy-client; see docs/database.md "Trust model".
inline constexpr std::string_view kSourceAddressField = "atls-pg-source";

/// The CONNECT request the proxy-client sends for a local connection from `source`.
http::RequestHead make_tunnel_request(const boost::asio::ip::tcp::endpoint& source);

/// The source endpoint of a tunnel request, or nullopt if the field is missing, repeated or
/// malformed.
std::optional<boost::asio::ip::tcp::endpoint> tunnel_source(const http::RequestHead& request);

/// Whether `request` is a database tunnel (plain CONNECT to kTunnelAuthority).
bool is_tunnel_request(const http::RequestHead& request);

}  // namespace atls::proxy::pg
