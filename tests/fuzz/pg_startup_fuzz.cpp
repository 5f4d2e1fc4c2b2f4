// Fuzzes the pgwire parsers the proxy runs on untrusted bytes (standards.md §5.1, §5.4, §5.7):
// the start-up packet parser (whatever arrives first from a client, on any listener), the
// BackendKeyData rewriter (the backend -> client stream, arbitrarily chunked), the
// ErrorResponse parser and the host-based rules parser. Any input must parse or fail with a
// named pg.* error; whatever parses must re-encode to the same bytes.
//
// Input: byte 0 selects the parser (mod 4), the rest is its input; for the rewriter byte 1
// also chooses the chunk size.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "proxy/pg/errors.h"
#include "proxy/pg/hba.h"
#include "proxy/pg/key_rewriter.h"
#include "proxy/pg/wire.h"

namespace {

using namespace atls::proxy::pg;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void fuzz_startup(atls::ByteView input) {
  auto length = parse_startup_length(input);
  auto parsed = parse_startup_packet(input);
  if (!parsed) {
    check(parsed.error().category() == pg_category());
    return;
  }
  check(length && *length == input.size());
  atls::Bytes again;
  if (std::holds_alternative<SslRequest>(*parsed)) {
    again = encode_ssl_request();
  } else if (std::holds_alternative<GssEncRequest>(*parsed)) {
    again = encode_gssenc_request();
  } else if (const auto* cancel = std::get_if<CancelRequest>(&*parsed)) {
    again = encode_cancel_request(cancel->pid, cancel->key);
  } else {
    const auto& message = std::get<StartupMessage>(*parsed);
    check(!message.user().empty() || message.get("user").has_value());
    (void)message.database();
    (void)message.physical_replication();
    again = encode_startup_message(message);
  }
  check(again.size() == input.size() && std::memcmp(again.data(), input.data(), input.size()) == 0);
}

void fuzz_rewriter(atls::ByteView input) {
  if (input.empty()) {
    return;
  }
  const std::size_t chunk = 1 + input[0] % 64;
  input = input.subspan(1);
  std::size_t issued = 0;
  KeyRewriter rewriter([&issued](std::uint32_t, atls::ByteView key) {
    ++issued;
    return KeyRewriter::Issued{1, atls::Bytes(key.size(), 0xee)};
  });
  atls::Bytes out;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const std::size_t n = std::min(chunk, input.size() - pos);
    if (!rewriter.feed(input.subspan(pos, n), out)) {
      return;
    }
  }
  // The rewrite never changes the length of the stream and issues at most one key.
  check(issued <= 1);
  check(out.size() <= input.size());
}

void fuzz_error_response(atls::ByteView input) {
  auto fields = parse_error_response(input);
  if (fields) {
    // Re-encoding keeps the fields it understood.
    auto again = parse_error_response(
        encode_error_response(fields->severity, fields->sqlstate, fields->message, fields->detail));
    check(again && again->sqlstate == fields->sqlstate && again->message == fields->message);
  }
}

void fuzz_hba(atls::ByteView input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  auto rules = HbaRules::parse(text);
  if (!rules) {
    check(rules.error().code == make_error_code(Errc::HbaSyntax) ||
          rules.error().code == make_error_code(Errc::HbaUnsupported));
    return;
  }
  HbaRequest request;
  request.address = boost::asio::ip::make_address("10.1.2.3");
  request.database = "db";
  request.user = "user";
  const auto decision = rules->evaluate(request);
  check(decision.allowed || decision.reason);
  check(decision.line <= text.size() + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const atls::ByteView input(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: fuzz_startup(input); break;
    case 1: fuzz_rewriter(input); break;
    case 2: fuzz_error_response(input); break;
    default: fuzz_hba(input); break;
  }
  return 0;
}
