// Fuzzes the parsers of what AMD KDS (or whatever answers at the configured base URL) and the
// certificate cache directory return: Retry-After values, cache file names, VCEK bodies checked
// against a query, PEM certificate chains and DER CRLs.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attest/snp/certificate_cache.h"
#include "attest/snp/errors.h"
#include "attest/snp/kds_client.h"

namespace {

bool is_snp_error(const atls::ErrorCode& ec) {
  return &ec.category() == &atls::attest::snp::snp_category();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::snp;
  const atls::ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const atls::SystemTime now = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);

  if (const auto delay = parse_retry_after(text, now); delay && delay->count() < 0) {
    std::abort();
  }
  if (const auto query = parse_vcek_cache_name(text)) {
    if (vcek_cache_name(*query) != text) {
      std::abort();
    }
  }
  VcekQuery query;
  query.chip_id.fill(0xc1);
  query.reported_tcb =
      decode_tcb(encode_tcb({0, 4, 0, 22, 213, std::nullopt}, Product::Milan), Product::Milan);
  if (auto checked = check_vcek_matches(input, query); !checked && !is_snp_error(checked.error())) {
    std::abort();
  }
  if (auto chain = parse_kds_cert_chain(text);
      chain ? chain->size() != 2 : !is_snp_error(chain.error())) {
    std::abort();
  }
  if (auto crl = check_crl_der(input); !crl && !is_snp_error(crl.error())) {
    std::abort();
  }
  return 0;
}
