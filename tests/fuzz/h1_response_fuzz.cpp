// Fuzzes the HTTP/1.1 response parser of the proxy-server's target connections
// (http/h1_parser): arbitrary bytes from a target must give a clear result, never a crash, and
// the result must not depend on how the bytes were split across reads.
//
// Input: byte 0 picks the request method the response answers (GET, HEAD, CONNECT) and the
// read size used for the split run (1..32 bytes); the rest is what the target sent.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "h1_fuzz_support.h"

using namespace atls_fuzz_h1;  // NOLINT(google-build-using-namespace): one fuzz target

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT"};
  const std::string_view method = kMethods[data[0] % 3];
  const std::size_t piece = 1 + (data[0] / 3) % 32;
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

  h1::ParsedResponse parsed;
  const auto head = h1::parse_response_head(wire, kMaxHead, parsed);
  // Every prefix of the bytes answers consistently: Incomplete before the head's end, the same
  // verdict once it is there (the parser never looks past the head).
  if (head.status == h1::ParseStatus::Complete) {
    check(head.consumed >= 16 && head.consumed <= kMaxHead && head.consumed <= wire.size());
    check(parsed.head.status >= 100 && parsed.head.status <= 599);
    h1::ParsedResponse again;
    const auto exact = h1::parse_response_head(wire.substr(0, head.consumed), kMaxHead, again);
    check(exact.status == h1::ParseStatus::Complete && exact.consumed == head.consumed);
    check(again.head.headers == parsed.head.headers);
    h1::ParsedResponse shorter;
    const auto cut = h1::parse_response_head(wire.substr(0, head.consumed - 1), kMaxHead, shorter);
    check(cut.status == h1::ParseStatus::Incomplete);
    for (const auto& field : parsed.head.headers) {
      check(!field.name.empty());
      check(field.value.find_first_of("\r\n") == std::string::npos);
    }
    if (parsed.chunked) {
      check(!parsed.head.content_length);
    }
  } else if (head.status == h1::ParseStatus::Invalid) {
    check(!head.error.empty());
    return 0;
  } else {
    return 0;
  }

  const Framing framing = h1::response_framing(method, parsed);
  if (framing != Framing::ContentLength && framing != Framing::Chunked &&
      framing != Framing::CloseDelimited) {
    return 0;
  }
  check_split_invariance(framing, parsed.head.content_length.value_or(0),
                         wire.substr(head.consumed), piece);
  return 0;
}
