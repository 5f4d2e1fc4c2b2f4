// Fuzzes the header-injection and request-forwarding boundary of the proxy (interop spec §7):
// whatever arrives — malformed HTTP/1.1 from a source client, from the channel or from the
// target, or arbitrary HTTP/2 field bytes — the message the proxy re-serialises must parse
// cleanly and carry exactly the attestation headers the proxy set, the configured Host, and no
// connection-specific or smuggled fields.
//
// Input: byte 0 selects the direction (0: request head, 1: response head, 2: raw field pairs
// as they could arrive in HTTP/2 HEADERS), the rest is the message.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/h1_parser.h"
#include "http/h1_wire.h"
#include "http/semantics.h"
#include "proxy/http/attestation_headers.h"
#include "proxy/http/forward_to_target.h"

namespace {

namespace bhttp = boost::beast::http;
using atls::http::Fields;

constexpr std::string_view kTarget = "target.internal:8080";

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

template <bool IsRequest>
std::optional<Fields> reparse(const std::string& serialized) {
  bhttp::parser<IsRequest, bhttp::empty_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(serialized), ec);
  if (ec || !parser.is_header_done() || used != serialized.size()) {
    return std::nullopt;
  }
  // Beast is the independent parser here: what the proxy serialises must parse elsewhere too.
  Fields fields;
  for (const auto& field : parser.get().base()) {
    fields.add(field.name_string(), field.value());
  }
  return fields;
}

void check_forwarded_request(const atls::http::RequestHead& in) {
  const auto unattested = atls::proxy::attestation_header_values(atls::ratls::PeerAttestation{});
  const auto out =
      atls::proxy::make_target_request(in, std::string(kTarget), "127.0.0.1", unattested);
  const std::string wire =
      atls::http::serialize_request_head(out, out.authority, atls::http::Framing::None);
  auto fields = reparse<true>(wire);
  check(fields.has_value());
  std::size_t hosts = 0;
  std::size_t types = 0;
  for (const auto& field : *fields) {
    hosts += field.name == "host" ? 1 : 0;
    types += field.name == atls::proxy::kAttestationTypeHeader ? 1 : 0;
    check(field.name != atls::proxy::kMeasurementHeader);
    check(field.name != "connection" && field.name != "keep-alive" &&
          field.name != "transfer-encoding" && field.name != "content-length");
  }
  check(hosts == 1 && fields->get("host") == kTarget);
  check(types == 1 && fields->get(atls::proxy::kAttestationTypeHeader) == "none");
}

// Source requests are parsed by http/h1_parser, as every HTTP/1.1 listener does.
void fuzz_request(std::string_view data) {
  atls::http::h1::ParsedRequest parsed;
  const auto result = atls::http::h1::parse_request_head(data, std::size_t{64} * 1024, parsed);
  if (result.status != atls::http::h1::ParseStatus::Complete) {
    return;
  }
  const auto& head = parsed.head;
  if (head.method == "CONNECT" || head.target.empty() || head.target.front() != '/') {
    return;  // not forwarded to the target as a request line of this form
  }
  check_forwarded_request(head);
}

// Target responses are parsed by http/h1_parser, as the proxy-server's target connections do.
void fuzz_response(std::string_view data) {
  atls::http::h1::ParsedResponse parsed;
  const auto result = atls::http::h1::parse_response_head(data, std::size_t{64} * 1024, parsed);
  if (result.status != atls::http::h1::ParseStatus::Complete) {
    return;
  }
  atls::http::ResponseHead head = std::move(parsed.head);
  atls::http::strip_connection_fields(head.headers);
  atls::http::drop_invalid_fields(head.headers);
  atls::proxy::set_attestation_headers(head.headers, atls::ratls::PeerAttestation{});
  const std::string wire =
      atls::http::serialize_response_head(head, atls::http::Framing::None, false);
  auto fields = reparse<false>(wire);
  check(fields.has_value());
  check(!fields->contains(atls::proxy::kMeasurementHeader));
  check(fields->get(atls::proxy::kAttestationTypeHeader) == "none");
}

// HTTP/2 HEADERS carry arbitrary octets until nghttp2 validates them; model an unvalidated
// source to make sure the proxy's own checks hold: pairs separated by 0xff, name/value by 0xfe.
void fuzz_raw_fields(std::string_view data) {
  atls::http::RequestHead head;
  head.method = "GET";
  head.target = "/";
  std::size_t start = 0;
  while (start <= data.size()) {
    const auto end = std::min(data.find('\xff', start), data.size());
    const std::string_view pair = data.substr(start, end - start);
    const auto split = pair.find('\xfe');
    if (split != std::string_view::npos) {
      head.headers.add(pair.substr(0, split), pair.substr(split + 1));
    }
    start = end + 1;
  }
  check_forwarded_request(head);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: fuzz_request(rest); break;
    case 1: fuzz_response(rest); break;
    default: fuzz_raw_fields(rest); break;
  }
  return 0;
}
