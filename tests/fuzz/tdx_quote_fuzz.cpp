// Fuzzes the TDX quote parser (verification.md §1.1, interop §4.2) and what the verifier parses
// out of a quote before any collateral is involved: the PEM PCK chain, the Intel SGX extension
// (§1.2) and the CA type. Any input must parse or fail with a named tdx.* error; a parsed quote
// must be internally consistent.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "attest/tdx/errors.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/quote_verifier.h"

namespace {

void require_named(const atls::Failure& failure) {
  if (&failure.code.category() != &atls::attest::tdx::tdx_category()) {
    std::abort();  // every parse failure is a tdx.* code
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::tdx;
  const atls::ByteView input(data, size);
  auto quote = parse_quote(input);
  if (!quote) {
    require_named(quote.error());
  } else {
    const std::size_t signed_size = quote->signed_data.size();
    if (quote->size + quote->trailing_bytes != size || signed_size > quote->size ||
        std::memcmp(quote->signed_data.data(), data, signed_size) != 0 ||
        (quote->body_type != kBodyTypeTdReport10 && quote->body_type != kBodyTypeTdReport15)) {
      std::abort();
    }
    // What QuoteVerifier::prepare does next (chain, extension, CA type, path validation
    // against the production root; the caches are bounded).
    static const QuoteVerifier verifier(TrustAnchors::intel_production().value());
    auto prepared = verifier.prepare(input);
    if (!prepared) {
      require_named(prepared.error());
    }
  }
  // The extension parser on raw DER, and the enclave report layout.
  auto extension = parse_pck_extension_der(input);
  if (!extension) {
    require_named(extension.error());
  }
  (void)parse_enclave_report(input);
  return 0;
}
