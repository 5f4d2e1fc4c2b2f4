#include "http/h1_wire.h"

#include <array>
#include <charconv>

#include "http/semantics.h"

namespace atls::http {
namespace {

// Numbers are appended with to_chars: these run for every proxied message, and a formatted
// temporary string per number showed in the profiles (docs/benchmarks.md).
void append_number(std::string& out, std::uint64_t value, int base = 10) {
  std::array<char, 20> digits{};  // 20 decimal digits hold any std::uint64_t
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value, base);
  out.append(digits.data(), end);
}

void append_fields(std::string& out, const Fields& fields) {
  for (const auto& field : fields) {
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
}

void append_framing(std::string& out, Framing framing, std::optional<std::uint64_t> length) {
  if (framing == Framing::ContentLength) {
    out += "content-length: ";
    append_number(out, length.value_or(0));
    out += "\r\n";
  } else if (framing == Framing::Chunked) {
    out += "transfer-encoding: chunked\r\n";
  }
}

}  // namespace

std::string serialize_request_head(const RequestHead& head, std::string_view host,
                                   Framing framing) {
  std::string out;
  out.reserve(256 + head.headers.size() * 48);
  out += head.method;
  out += ' ';
  out += head.target.empty() ? "/" : head.target;
  out += head.version == Version::Http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  out += "host: ";
  out += host;
  out += "\r\n";
  for (const auto& field : head.headers) {
    if (field.name == "host" || field.name == "content-length" ||
        field.name == "transfer-encoding") {
      continue;
    }
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
  append_framing(out, framing, head.content_length);
  out += "\r\n";
  return out;
}

std::string serialize_response_head(const ResponseHead& head, Framing framing, bool close) {
  std::string out;
  out.reserve(128 + head.headers.size() * 48);
  const std::string_view reason =
      head.reason.empty() ? reason_phrase(head.status) : std::string_view(head.reason);
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(head.status));
  out += ' ';
  out += reason;
  out += "\r\n";
  for (const auto& field : head.headers) {
    if (field.name == "content-length" || field.name == "transfer-encoding") {
      continue;
    }
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
  append_framing(out, framing, head.content_length);
  if (close) {
    out += "connection: close\r\n";
  }
  out += "\r\n";
  return out;
}

std::string chunk_header(std::size_t size) {
  std::string out;
  append_number(out, size, 16);
  out += "\r\n";
  return out;
}

std::string last_chunk(const Fields& trailers) {
  std::string out = "0\r\n";
  append_fields(out, trailers);
  out += "\r\n";
  return out;
}

bool allowed_in_trailers(std::string_view name) noexcept {
  for (const std::string_view forbidden : {"content-length",
                                           "transfer-encoding",
                                           "host",
                                           "content-type",
                                           "content-encoding",
                                           "content-range",
                                           "trailer",
                                           "authorization",
                                           "set-cookie",
                                           "cookie",
                                           "te",
                                           "connection",
                                           "keep-alive",
                                           "upgrade",
                                           "expect",
                                           "cache-control",
                                           "max-forwards",
                                           "pragma",
                                           "range",
                                           "proxy-authorization",
                                           "www-authenticate",
                                           "proxy-authenticate",
                                           "age",
                                           "expires",
                                           "date",
                                           "location",
                                           "retry-after",
                                           "vary",
                                           "warning"}) {
    if (iequals(name, forbidden)) {
      return false;
    }
  }
  return true;
}

}  // namespace atls::http
