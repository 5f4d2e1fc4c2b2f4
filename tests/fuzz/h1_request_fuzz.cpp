// Fuzzes the HTTP/1.1 request parser of every HTTP/1.1 listener (http/h1_parser): arbitrary
// bytes from a client must give a clear result, never a crash, and the result must not depend
// on how the bytes were split across reads.
//
// Input: byte 0 picks the read size used for the split run (1..32 bytes); the rest is what the
// client sent.
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
  const std::size_t piece = 1 + data[0] % 32;
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

  h1::ParsedRequest parsed;
  const auto head = h1::parse_request_head(wire, kMaxHead, parsed);
  if (head.status == h1::ParseStatus::Invalid) {
    check(!head.error.empty());
    return 0;
  }
  if (head.status != h1::ParseStatus::Complete) {
    return 0;
  }
  // The parser never looks past the head: the head alone parses the same, one byte less is
  // still incomplete.
  check(head.consumed <= kMaxHead && head.consumed <= wire.size());
  h1::ParsedRequest again;
  const auto exact = h1::parse_request_head(wire.substr(0, head.consumed), kMaxHead, again);
  check(exact.status == h1::ParseStatus::Complete && exact.consumed == head.consumed);
  check(again.head.headers == parsed.head.headers && again.head.target == parsed.head.target);
  h1::ParsedRequest shorter;
  const auto cut = h1::parse_request_head(wire.substr(0, head.consumed - 1), kMaxHead, shorter);
  check(cut.status == h1::ParseStatus::Incomplete);
  check(!parsed.head.method.empty() && !parsed.head.target.empty());
  std::size_t hosts = 0;
  for (const auto& field : parsed.head.headers) {
    check(!field.name.empty());
    check(field.value.find_first_of("\r\n") == std::string::npos);
    hosts += field.name == "host" ? 1 : 0;
  }
  check(hosts <= 1);
  if (parsed.chunked) {
    check(!parsed.head.content_length);
  }

  const Framing framing = h1::request_framing(parsed);
  if (framing == Framing::None) {
    return 0;
  }
  check_split_invariance(framing, parsed.head.content_length.value_or(0),
                         wire.substr(head.consumed), piece);
  return 0;
}
