// Fuzzes the check of what configfs-tsm returned before a TDX attester sends it
// (attest/tdx_gen/tdx_attester.h check_generated_quote): the kernel and the host quoting
// service are outside this process, so their output is untrusted bytes. Any input must pass
// unchanged or fail with a named tdx_gen.* error. The first 64 bytes are the expected
// REPORTDATA, the rest the outblob.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/tdx_attester.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest;
  ReportData expected{};
  const std::size_t prefix = std::min(size, expected.size());
  std::copy(data, data + prefix, expected.begin());
  const atls::Bytes outblob(data + prefix, data + size);
  auto checked = tdx_gen::check_generated_quote(outblob, expected);
  if (!checked) {
    if (&checked.error().code.category() != &tdx_gen::tdx_gen_category()) {
      std::abort();  // every refusal is a tdx_gen.* code
    }
  } else if (*checked != outblob) {
    std::abort();  // accepted bytes are forwarded unchanged
  }
  return 0;
}
