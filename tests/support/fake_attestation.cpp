#include "support/fake_attestation.h"

#include <algorithm>
#include <array>

namespace atls::testing {
namespace {

constexpr std::array kTable{
    errc_row(FakeErrc::BadEvidence, "bad_evidence", "fake evidence malformed"),
    errc_row(FakeErrc::ReportDataMismatch, "report_data_mismatch",
             "fake evidence binds other report data"),
    errc_row(FakeErrc::GenerationFailed, "generation_failed", "fake generation failed"),
};
const NamedCategory kCategory{"fake", kTable};
constexpr std::string_view kMagic = "ECHO";

}  // namespace

const NamedCategory& fake_category() noexcept {
  return kCategory;
}

Result<Bytes> EchoAttester::generate(const attest::ReportData& report_data) const {
  if (mode_ == Mode::Fail) {
    return make_error_code(FakeErrc::GenerationFailed);
  }
  {
    std::lock_guard lock(mutex_);
    last_ = report_data;
  }
  Bytes out(kMagic.begin(), kMagic.end());
  out.insert(out.end(), report_data.begin(), report_data.end());
  if (mode_ == Mode::WrongBinding) {
    out.back() ^= 0x01;
  }
  out.resize(out.size() + padding_, 0);
  return out;
}

attest::ReportData EchoAttester::last_report_data() const {
  std::lock_guard lock(mutex_);
  return last_;
}

Result<attest::VerifiedClaims> EchoVerifier::verify(attest::AttestationType type, ByteView evidence,
                                                    const attest::ReportData& expected,
                                                    SystemTime /*now*/) const {
  ++calls_;
  if (delay_.count() > 0) {
    std::this_thread::sleep_for(delay_);
  }
  if (evidence.size() < kMagic.size() + 64 ||
      !std::equal(kMagic.begin(), kMagic.end(), evidence.begin())) {
    return make_error_code(FakeErrc::BadEvidence);
  }
  attest::VerifiedClaims claims;
  claims.type = type;
  std::copy_n(evidence.begin() + kMagic.size(), 64, claims.report_data.begin());
  if (claims.report_data != expected) {
    return make_error_code(FakeErrc::ReportDataMismatch);
  }
  for (unsigned i = 0; i < 5; ++i) {
    claims.measurements[i] = Bytes(48, measurement_byte_);
  }
  return claims;
}

}  // namespace atls::testing
