#pragma once
// Shared by the HTTP/1.1 parser fuzz targets (h1_request_fuzz.cpp, h1_response_fuzz.cpp): runs
// a body through http/h1_parser's BodyDecoder in pieces of a given size, checking the decoder's
// own invariants on the way, so that a target can compare one split against another.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/h1_parser.h"

namespace atls_fuzz_h1 {

using atls::http::Fields;
using atls::http::Framing;
namespace h1 = atls::http::h1;

inline constexpr std::size_t kMaxHead = 4096;
inline constexpr std::size_t kMaxTrailer = 1024;

inline void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

struct BodyResult {
  std::string content;
  std::size_t consumed = 0;
  bool done = false;
  bool failed = false;
  Fields trailers;
};

inline BodyResult decode_body(Framing framing, std::uint64_t length, std::string_view input,
                              std::size_t piece) {
  h1::BodyDecoder decoder(framing, length, kMaxTrailer);
  BodyResult out;
  std::size_t offered = 0;
  while (!decoder.done() && !decoder.failed()) {
    offered = std::min(input.size(), std::max(offered, out.consumed) + piece);
    const auto step =
        decoder.next(atls::as_bytes(input.substr(out.consumed, offered - out.consumed)));
    check(step.consumed <= offered - out.consumed);
    check(step.content.size() <= step.consumed);
    out.content.append(reinterpret_cast<const char*>(step.content.data()), step.content.size());
    out.consumed += step.consumed;
    if (step.consumed == 0 && offered == input.size()) {
      break;
    }
  }
  out.done = decoder.done();
  out.failed = decoder.failed();
  check(!(out.done && out.failed));
  if (out.failed) {
    check(!decoder.error().empty());
  }
  out.trailers = decoder.take_trailers();
  return out;
}

/// The same body decoded at once and in `piece`-byte reads gives the same result.
inline void check_split_invariance(Framing framing, std::uint64_t length, std::string_view body,
                                   std::size_t piece) {
  const auto whole = decode_body(framing, length, body, body.size() + 1);
  const auto split = decode_body(framing, length, body, piece);
  check(whole.done == split.done && whole.failed == split.failed);
  if (whole.done) {
    check(whole.content == split.content && whole.consumed == split.consumed);
    check(whole.trailers == split.trailers);
  }
  if (framing == Framing::ContentLength && whole.done) {
    check(whole.content.size() == length);
  }
}

}  // namespace atls_fuzz_h1
