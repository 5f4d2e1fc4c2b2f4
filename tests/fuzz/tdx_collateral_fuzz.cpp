// Fuzzes the DCAP collateral parsers (verification.md §1.3 inputs, §1.5 forms): TCB info and QE
// identity JSON, the dcap-qvl JSON and flashbots YAML collateral forms, PCS response bodies
// (exact-bytes extraction), CRL encodings and RFC 3339 dates. The first byte selects the
// parser; any input must parse or fail with a named error, never crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attest/tdx/collateral.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/tcb_info.h"

namespace {

void require_named(const atls::Failure& failure) {
  if (&failure.code.category() != &atls::attest::tdx::tdx_category()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::tdx;
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto info = parse_tcb_info(text);
      if (!info) {
        require_named(info.error());
      } else if (info->tcb_levels.empty()) {
        std::abort();
      }
      break;
    }
    case 1: {
      auto identity = parse_qe_identity(text);
      if (!identity) {
        require_named(identity.error());
      }
      break;
    }
    case 2:
    case 3: {
      auto documents = data[0] % 6 == 2 ? collateral_from_json(text) : collateral_from_yaml(text);
      if (!documents) {
        require_named(documents.error());
        break;
      }
      auto collateral = Collateral::parse(std::move(*documents));
      if (!collateral) {
        require_named(collateral.error());
      }
      break;
    }
    case 4: {
      for (const char* key : {"tcbInfo", "enclaveIdentity"}) {
        auto split = split_signed_json(text, key);
        if (!split) {
          require_named(split.error());
          continue;
        }
        // The extracted bytes are a substring of the body.
        if (text.find(split->text) == std::string_view::npos || split->signature.size() != 64) {
          std::abort();
        }
        (void)parse_tcb_info(split->text);
        (void)parse_qe_identity(split->text);
      }
      (void)decode_issuer_chain_header(text);
      break;
    }
    default: {
      auto crl = decode_crl_bytes(atls::ByteView(data + 1, size - 1));
      if (crl) {
        (void)parse_crl_der(*crl);
      }
      if (auto time = parse_rfc3339(text)) {
        (void)format_rfc3339(*time);
      }
      break;
    }
  }
  return 0;
}
