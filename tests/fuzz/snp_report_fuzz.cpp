// Fuzzes the SEV-SNP evidence container and ATTESTATION_REPORT parser (src/attest/snp/
// docs/protocol.md §7, report.h), then the whole production verification path: any input must parse
// or fail with a named snp error, never crash or read out of bounds. The input is tried both
// as evidence and as a bare report.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_verifier.h"

namespace {

bool is_snp_error(const atls::ErrorCode& ec) {
  return &ec.category() == &atls::attest::snp::snp_category();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::attest;
  const atls::ByteView input(data, size);

  auto report = snp::parse_report(input);
  if (!report && !is_snp_error(report.error())) {
    std::abort();
  }
  if (report) {
    for (const auto product : {snp::Product::Milan, snp::Product::Genoa, snp::Product::Turin}) {
      auto copy = *report;
      snp::apply_product(copy, product);
    }
  }

  auto evidence = snp::decode_evidence(input);
  if (!evidence) {
    if (!is_snp_error(evidence.error())) {
      std::abort();
    }
    return 0;
  }
  // Whatever decodes re-encodes to a decodable container with the same report and entries.
  const atls::Bytes again = snp::encode_evidence(evidence->report, evidence->certificates);
  auto round_trip = snp::decode_evidence(again);
  if (!round_trip || round_trip->report != evidence->report ||
      round_trip->certificates.entries.size() != evidence->certificates.entries.size()) {
    std::abort();
  }
  static const snp::SnpVerifier verifier;
  ReportData expected{};
  if (evidence->report.size() >= 0x90) {
    std::memcpy(expected.data(), evidence->report.data() + 0x50, expected.size());
  }
  const auto now = std::chrono::sys_days(std::chrono::year(2024) / 1 / 1);
  auto verified = verifier.verify_evidence(AttestationType::SevSnp, input, expected, now);
  if (!verified && !is_snp_error(verified.error().code)) {
    std::abort();
  }
  // Reach the checks behind the root: trust the evidence's own ARK as an insecure test anchor
  // (only here, in the fuzzer), so generated chains get as far as binding and signature.
  if (const atls::Bytes* ark = evidence->certificates.find(snp::guids::ark())) {
    snp::SnpVerifierOptions options;
    options.trust_insecure_test_anchors_for_testing = snp::InsecureTestAnchors{*ark, {}, {}};
    options.chain_cache_capacity = 0;
    const snp::SnpVerifier test_verifier(nullptr, options);
    auto checked = test_verifier.verify_evidence(AttestationType::SevSnp, input, expected, now);
    if (!checked && !is_snp_error(checked.error().code)) {
      std::abort();
    }
  }
  return 0;
}
