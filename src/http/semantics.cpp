#include "http/semantics.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <vector>

namespace atls::http {
namespace {

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace

void strip_connection_fields(Fields& fields) {
  // Names listed in Connection are connection-specific too (RFC 9110 §7.6.1).
  std::vector<std::string> listed;
  for (const auto& field : fields) {
    if (field.name != "connection") {
      continue;
    }
    std::string_view rest = field.value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view element = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
        element.remove_prefix(1);
      }
      while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
        element.remove_suffix(1);
      }
      if (!element.empty()) {
        listed.push_back(to_lower(element));
      }
    }
  }
  const bool te_trailers = fields.has_token("te", "trailers");
  // One pass (names are stored lower-case): every message passes here.
  fields.erase_if([&listed](const Field& field) {
    const std::string_view name = field.name;
    return name == "connection" || name == "proxy-connection" || name == "keep-alive" ||
           name == "transfer-encoding" || name == "upgrade" || name == "te" ||
           std::find(listed.begin(), listed.end(), name) != listed.end();
  });
  if (te_trailers) {
    fields.add("te", "trailers");
  }
}

bool is_valid_field(std::string_view name, std::string_view value) noexcept {
  if (!is_token(name)) {
    return false;
  }
  for (const char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return false;
    }
  }
  return value.empty() || (value.front() != ' ' && value.front() != '\t' && value.back() != ' ' &&
                           value.back() != '\t');
}

std::size_t drop_invalid_fields(Fields& fields) {
  // In place: every request and response passes here, and nearly all fields are valid.
  return fields.erase_if(
      [](const Field& field) { return !is_valid_field(field.name, field.value); });
}

bool is_websocket_upgrade(const RequestHead& request) {
  return request.method == "GET" && request.headers.has_token("upgrade", "websocket") &&
         request.headers.has_token("connection", "upgrade");
}

bool is_websocket_connect(const RequestHead& request) {
  return request.method == "CONNECT" && iequals(request.protocol, "websocket");
}

bool is_tunnel_connect(const RequestHead& request) {
  return request.method == "CONNECT" && request.protocol.empty();
}

std::string websocket_accept(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input += kGuid;
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return base64(digest.data(), digest.size());
}

std::string make_websocket_key() {
  std::array<unsigned char, 16> nonce{};
  RAND_bytes(nonce.data(), static_cast<int>(nonce.size()));
  return base64(nonce.data(), nonce.size());
}

bool response_has_content(std::string_view method, int status) noexcept {
  if (method == "HEAD" || (status >= 100 && status < 200) || status == 204 || status == 304) {
    return false;
  }
  return !(method == "CONNECT" && status >= 200 && status < 300);
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace atls::http
