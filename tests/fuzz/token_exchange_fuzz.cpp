// Fuzzes the token endpoint's form parser and the RFC 8693 request rules on top of it
// (sts/form.h, sts/token_exchange.h): any body must parse or fail with a named error, and a
// request that parses must re-encode to a body that parses to the same request.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sts/form.h"
#include "sts/token_exchange.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::sts;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto form = parse_form(body);
  if (!form) {
    return 0;
  }
  for (const auto& [name, value] : form->pairs()) {
    // Every pair survives encoding.
    auto again = parse_form(form_encode(name) + "=" + form_encode(value));
    if (!again || again->pairs().size() != 1 || again->pairs()[0].first != name ||
        again->pairs()[0].second != value) {
      std::abort();
    }
  }
  auto request = parse_token_exchange(*form);
  if (request) {
    auto reencoded = parse_form(make_token_exchange_body(request->subject, request->targets));
    if (!reencoded) {
      std::abort();
    }
    auto same = parse_token_exchange(*reencoded);
    if (!same || !(same->subject == request->subject) || same->targets != request->targets) {
      std::abort();
    }
  }
  return 0;
}
