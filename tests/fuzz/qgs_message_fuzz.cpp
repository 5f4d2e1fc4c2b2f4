// Fuzzes what the TDX attester parses from the host when it generates quotes without
// configfs-tsm (attest/tdx_gen/qgs_message.h; docs/verification.md §5.3): QGS GET_QUOTE
// messages (from the QGS socket or inside the TDX_CMD_GET_QUOTE buffer) and the GetQuote buffer
// framing. The host is outside the TD's trust boundary: any input must decode or fail with a
// named tdx_gen.* code, never read out of bounds; what decodes must re-encode to the same bytes
// (apart from the minor version, which is not interpreted). The first byte picks the parser.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"

namespace {

template <class T>
void expect_named(const atls::Outcome<T>& result) {
  if (!result && &result.error().code.category() != &atls::attest::tdx_gen::tdx_gen_category()) {
    std::abort();
  }
}

// `encoded` equals `input` except for the minor version (bytes 2-3), which the codec keeps at 0.
void expect_same_message(const atls::Bytes& encoded, atls::ByteView input) {
  if (encoded.size() != input.size() || input.size() < 4 ||
      !std::equal(encoded.begin(), encoded.begin() + 2, input.begin()) ||
      !std::equal(encoded.begin() + 4, encoded.end(), input.begin() + 4)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::tdx_gen;
  if (size == 0) {
    return 0;
  }
  const atls::ByteView input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {  // a GET_QUOTE_RESP from the QGS
      const auto response = decode_get_quote_response(input);
      expect_named(response);
      if (response) {
        if (response->quote.empty()) {
          std::abort();
        }
        expect_same_message(encode_get_quote_response(response->quote, response->selected_id),
                            input);
      }
      break;
    }
    case 1: {  // a TDX_CMD_GET_QUOTE buffer as the host returns it
      const auto message = get_quote_buffer_message(input);
      expect_named(message);
      if (message) {
        if (message->data() < input.data() ||
            message->data() + message->size() > input.data() + input.size()) {
          std::abort();
        }
        expect_named(decode_get_quote_response(*message));
      }
      break;
    }
    default: {  // a GET_QUOTE_REQ (what the fake QGS of the tests parses)
      const auto report = decode_get_quote_request(input);
      expect_named(report);
      if (report && report->empty()) {
        std::abort();
      }
      break;
    }
  }
  return 0;
}
