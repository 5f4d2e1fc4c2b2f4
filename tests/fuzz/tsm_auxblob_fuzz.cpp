// Fuzzes what the SEV-SNP attester does with the bytes the kernel hands back from the host
// (untrusted in the SEV-SNP model): the configfs-tsm `auxblob` / SNP_GET_EXT_REPORT
// certificate table turned into docs/protocol.md §7 evidence by assemble_evidence(), and the
// configfs-tsm decimal attributes (`generation`, `privlevel_floor`). Evidence that is produced
// must decode again with the same certificates.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attest/snp/cert_table.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_attester.h"
#include "attest/tsm/tsm_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest::snp;
  const atls::ByteView input(data, size);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto value = atls::attest::tsm::parse_decimal_attribute(text)) {
    if (text.empty() || text.size() > 21) {
      std::abort();
    }
  }

  // A report as the kernel returns it (only size, REPORT_DATA and VMPL are looked at here).
  const atls::Bytes report(kReportSize, 0);
  const atls::attest::ReportData expected{};
  auto evidence = assemble_evidence(report, input, expected, 0);
  if (!evidence) {
    if (&evidence.error().code.category() != &snp_category()) {
      std::abort();
    }
    return 0;
  }
  auto decoded = decode_evidence(*evidence);
  auto table = parse_cert_table(input);
  if (!decoded || !table || decoded->certificates.entries.size() > table->entries.size()) {
    std::abort();
  }
  for (const auto& entry : decoded->certificates.entries) {
    const atls::Bytes* original = table->find(entry.guid);
    if (original == nullptr || *original != entry.data) {
      std::abort();
    }
  }
  return 0;
}
