// Fuzzes DPoP proof checking (RFC 9449 §4.3). The input is split at '\n' into DPoP header field
// values (so several fields are exercised too) and verified against a fixed request at a fixed
// instant, the iat of the seed proofs. Properties: every refusal is a dpop error (jose failures
// are mapped), an accepted proof is a replay when presented again, its jkt is its key's
// thumbprint, and htu normalisation is idempotent.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sts/dpop/dpop.h"
#include "sts/dpop/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::sts::dpop;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (const auto normalized = normalize_htu(input)) {
    const auto again = normalize_htu(*normalized);
    if (!again || *again != *normalized) {
      std::abort();
    }
  }

  std::vector<std::string> values;
  std::string_view rest = input;
  while (values.size() < 4) {
    const std::size_t newline = rest.find('\n');
    values.emplace_back(rest.substr(0, newline));
    if (newline == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(newline + 1);
  }

  // A fresh verifier per input keeps runs independent of input order.
  ProofVerifier verifier;
  const ProofCheck check{"POST", "https://server.example.com/token", std::nullopt, false};
  const atls::SystemTime now{std::chrono::seconds(1562262616)};
  auto verified = verifier.verify(values, check, now);
  if (!verified) {
    if (verified.error().code.category() != dpop_category()) {
      std::abort();
    }
    return 0;
  }
  if (verified->jkt != verified->key.thumbprint()) {
    std::abort();
  }
  auto replayed = verifier.verify(values, check, now);
  if (replayed || replayed.error().code != make_error_code(Errc::Replayed)) {
    std::abort();
  }
  return 0;
}
