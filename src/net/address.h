#pragma once
// Address strings as the CLI accepts them (interop spec §1.3, §8).

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace atls::net {

struct HostPort {
  std::string host;  ///< without IPv6 brackets
  std::uint16_t port = 0;

  /// "host:port", with brackets around IPv6 literals.
  std::string to_string() const;
};

/// Parses "host:port" the way flashbots does: the host is everything before the last ':', with
/// surrounding brackets removed; `default_port` applies when there is no ':'. Unlike flashbots,
/// a bracketed IPv6 literal without a port ("[::1]") also gets the default port.
Outcome<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port);

/// Parses a listen address "ip:port" / "[ipv6]:port" (port 0 = ephemeral).
Outcome<boost::asio::ip::tcp::endpoint> parse_socket_address(std::string_view text);

/// True for "localhost", 127.0.0.0/8 and ::1.
bool is_loopback_host(std::string_view host);

struct Url {
  std::string scheme;  ///< "http" or "https", lower case
  HostPort authority;
  std::string target;  ///< path + query, at least "/"
};

/// Parses an absolute http(s) URL. No userinfo, no fragment processing beyond stripping it.
Outcome<Url> parse_url(std::string_view text);

}  // namespace atls::net
