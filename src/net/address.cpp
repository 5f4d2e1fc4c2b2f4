#include "net/address.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "net/errors.h"

namespace atls::net {
namespace {

Outcome<std::uint16_t> parse_port(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 65535) {
    return Failure{make_error_code(Errc::InvalidPort), std::string(whole)};
  }
  return static_cast<std::uint16_t>(value);
}

std::string strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

}  // namespace

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Outcome<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
  if (text.empty()) {
    return Failure{make_error_code(Errc::InvalidAddress), "empty address"};
  }
  HostPort out;
  const bool bracketed_only = text.front() == '[' && text.back() == ']';
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || bracketed_only) {
    out.host = strip_brackets(text);
    out.port = default_port;
  } else {
    out.host = strip_brackets(text.substr(0, colon));
    auto port = parse_port(text.substr(colon + 1), text);
    if (!port) {
      return port.error();
    }
    out.port = *port;
  }
  if (out.host.empty()) {
    return Failure{make_error_code(Errc::InvalidAddress), std::string(text)};
  }
  return out;
}

Outcome<boost::asio::ip::tcp::endpoint> parse_socket_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Failure{make_error_code(Errc::InvalidAddress),
                   std::string(text) + " (expected ip:port)"};
  }
  auto port = parse_port(text.substr(colon + 1), text);
  if (!port) {
    return port.error();
  }
  const std::string host = strip_brackets(text.substr(0, colon));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) {
    return Failure{make_error_code(Errc::InvalidAddress),
                   std::string(text) + " (expected a literal IP address)"};
  }
  return boost::asio::ip::tcp::endpoint(address, *port);
}

bool is_loopback_host(std::string_view host) {
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") {
    return true;
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(lower, ec);
  return !ec && address.is_loopback();
}

Outcome<Url> parse_url(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return Failure{make_error_code(Errc::InvalidUrl), std::string(text)};
  }
  Url url;
  url.scheme = std::string(text.substr(0, scheme_end));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https") {
    return Failure{make_error_code(Errc::UnsupportedScheme), std::string(text)};
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const auto path_start = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) {
    return Failure{make_error_code(Errc::InvalidUrl), "userinfo is not supported"};
  }
  auto host_port = parse_host_port(authority, url.scheme == "https" ? 443 : 80);
  if (!host_port) {
    return Failure{make_error_code(Errc::InvalidUrl), std::string(text)};
  }
  url.authority = std::move(*host_port);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (url.target.front() == '?') {
    url.target.insert(url.target.begin(), '/');
  }
  return url;
}

}  // namespace atls::net
