// Fuzzes the GHCB certificate table parser (SNP_GET_EXT_REPORT / configfs-tsm auxblob) and the
// AMD X.509 extension parser (hwID raw or OCTET STRING, SPL INTEGERs, IA5Strings). Tables that
// parse must re-encode canonically and parse again to the same entries.
#include <cstdint>
#include <cstdlib>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/errors.h"

namespace {

bool is_snp_error(const atls::ErrorCode& ec) {
  return &ec.category() == &atls::attest::snp::snp_category();
}

void parse_certificate(atls::ByteView der) {
  using namespace atls::attest::snp;
  auto cert = parse_certificate_der(der);
  if (!cert) {
    if (!is_snp_error(cert.error())) {
      std::abort();
    }
    return;
  }
  auto extensions = parse_amd_extensions(cert->get());
  if (!extensions && !is_snp_error(extensions.error())) {
    std::abort();
  }
  (void)certificate_validity(cert->get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::snp;
  const atls::ByteView input(data, size);
  // The input itself as a certificate (extension parser on arbitrary DER).
  parse_certificate(input);

  auto table = parse_cert_table(input);
  if (!table) {
    if (!is_snp_error(table.error())) {
      std::abort();
    }
    return 0;
  }
  for (const auto& entry : table->entries) {
    parse_certificate(entry.data);
  }
  auto again = parse_cert_table(encode_cert_table(*table));
  if (!again || again->entries.size() != table->entries.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < table->entries.size(); ++i) {
    if (!(again->entries[i].guid == table->entries[i].guid) ||
        again->entries[i].data != table->entries[i].data) {
      std::abort();
    }
  }
  return 0;
}
