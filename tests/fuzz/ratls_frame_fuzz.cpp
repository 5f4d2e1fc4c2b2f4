// Fuzzes the flashbots-ratls/1 frame header and SCALE message decoder (interop spec §2.2-2.3):
// any input must decode or fail with a named error, and whatever decodes must re-encode to the
// same bytes (the decoder accepts only minimal, trailing-free encodings).
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ratls/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::ratls;
  if (size >= kFrameHeaderSize) {
    std::array<std::uint8_t, kFrameHeaderSize> header{};
    std::memcpy(header.data(), data, header.size());
    (void)parse_frame_header(header);
  }
  const atls::ByteView input(data, size);
  auto message = decode_message(input);
  if (message) {
    const atls::Bytes again = encode_message(*message);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0) {
      std::abort();  // decode/encode must round-trip exactly
    }
  }
  atls::ByteView cursor = input;
  (void)read_compact(cursor);
  return 0;
}
