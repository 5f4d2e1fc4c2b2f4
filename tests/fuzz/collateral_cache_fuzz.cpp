// Fuzzes the parsers of untrusted bytes added by the collateral services
// (attest/collateral/README.md): cache files read from disk, Retry-After / HTTP-date values and
// status handling of PCS responses, URL-encoded issuer-chain headers, cache keys and PCCS base
// URLs, and the dating of parsed collateral bundles. The first byte selects the parser; any
// input must parse or fail with a named error, never crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "attest/collateral/http_policy.h"
#include "attest/collateral/tdx_pcs.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/pcs.h"
#include "attest/tdx/x509_util.h"

namespace {

namespace collateral = atls::attest::collateral;
namespace tdx = atls::attest::tdx;

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

const atls::SystemTime kNow = atls::SystemTime(std::chrono::seconds(1'767'225'600));

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto file = collateral::parse_cache_file(text);
      if (!file) {
        require(file.error().code == make_error_code(collateral::Errc::CacheFileMalformed));
      } else {
        // What parses re-encodes to the same content.
        require(collateral::valid_cache_key(file->key));
        auto again = collateral::parse_cache_file(collateral::encode_cache_file(*file));
        require(again && again->key == file->key && again->payload == file->payload &&
                again->fetched_at == file->fetched_at);
      }
      break;
    }
    case 1: {
      const auto delay = collateral::parse_retry_after(text, kNow);
      require(!delay || (delay->count() >= 0 && delay->count() <= 10LL * 366 * 24 * 3600));
      (void)collateral::parse_http_date(text);
      atls::net::HttpResponse response;
      response.status = size > 1 ? 400U + data[1] % 200U : 429U;
      response.headers.emplace_back("Retry-After", std::string(text));
      const auto kind = collateral::classify_response(response, kNow);
      require(kind.failure.has_value());
      break;
    }
    case 2: {
      auto chain = tdx::decode_issuer_chain_header(text);
      if (!chain) {
        require(&chain.error().code.category() == &tdx::tdx_category());
      } else {
        (void)tdx::parse_pem_chain(*chain, make_error_code(tdx::Errc::CollateralChainMalformed));
      }
      break;
    }
    case 3: {
      const auto key = collateral::parse_tdx_cache_key(text);
      if (key) {
        require(collateral::tdx_cache_key(key->first, key->second) == text);
        require(collateral::valid_cache_key(text));
      }
      const std::string base = tdx::normalize_pcs_base_url(text);
      require(!base.empty());
      (void)tdx::is_intel_pcs(base);
      (void)tdx::parse_fmspc(text);
      break;
    }
    case 4: {
      // A cache payload (dcap-qvl JSON) as the TDX loader reads it, up to dating the bundle.
      auto documents = tdx::collateral_from_json(text);
      if (documents) {
        auto parsed = tdx::Collateral::parse(std::move(*documents));
        if (parsed) {
          auto dates = tdx::collateral_dates(**parsed);
          require(!dates || dates->expires_at <= dates->tcb_info_next_update);
        }
      }
      break;
    }
    default: {
      // A PCS signed-document body.
      auto split = tdx::split_signed_json(text, "tcbInfo");
      require(!split || split->signature.size() == 64);
      break;
    }
  }
  return 0;
}
