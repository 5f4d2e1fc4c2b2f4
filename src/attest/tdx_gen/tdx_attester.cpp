#include "attest/tdx_gen/tdx_attester.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "attest/tdx/errors.h"
#include "attest/tdx/quote.h"
#include "attest/tdx_gen/errors.h"
#include "attest/tsm/errors.h"

namespace atls::attest::tdx_gen {
namespace {

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

bool is_tdx_type(AttestationType type) {
  return type == AttestationType::DcapTdx || type == AttestationType::GcpTdx ||
         type == AttestationType::QemuTdx;
}

}  // namespace

Outcome<Bytes> check_generated_quote(Bytes outblob, const ReportData& expected,
                                     std::size_t max_size) {
  if (outblob.size() > max_size) {
    return fail(Errc::GeneratedQuoteTooLarge,
                std::to_string(outblob.size()) + " bytes, at most " + std::to_string(max_size));
  }
  auto quote = tdx::parse_quote(outblob);
  if (!quote) {
    const ErrorCode& code = quote.error().code;
    // The parser names a non-TDX quote itself (interop spec §4.2: tee_type 0x81, version 4/5).
    if (code == tdx::Errc::NotTdx || code == tdx::Errc::SgxQuoteNotSupported) {
      return fail(Errc::GeneratedQuoteNotTdx, quote.error().describe());
    }
    return fail(Errc::GeneratedQuoteInvalid, quote.error().describe());
  }
  if (quote->header.tee_type != tdx::kTeeTypeTdx) {
    return fail(Errc::GeneratedQuoteNotTdx, "TEE type " + std::to_string(quote->header.tee_type));
  }
  // A quote over someone else's input (a racing writer the generation check missed, a confused
  // or malicious host) must never be sent: the peer would reject it at best.
  if (!std::equal(expected.begin(), expected.end(), quote->body.report_data.begin(),
                  quote->body.report_data.end())) {
    return fail(Errc::GeneratedReportDataMismatch);
  }
  return outblob;
}

TdxAttester::TdxAttester(TdxAttesterOptions options)
    : options_([&options] {
        options.tsm.expected_provider = std::string(tsm::providers::kTdxGuest);
        return std::move(options);
      }()),
      tsm_(options_.tsm) {}

Outcome<std::shared_ptr<TdxAttester>> TdxAttester::create(TdxAttesterOptions options) {
  if (!is_tdx_type(options.type)) {
    return fail(Errc::UnsupportedAttestationType, std::string(to_string(options.type)));
  }
  return std::make_shared<TdxAttester>(std::move(options));
}

Result<Bytes> TdxAttester::generate(const ReportData& report_data) const {
  auto evidence = generate_evidence(report_data);
  if (!evidence) {
    return evidence.error().code;
  }
  return std::move(*evidence);
}

Outcome<Bytes> TdxAttester::generate_evidence(const ReportData& report_data) const {
  auto delay = options_.retry_delay;
  for (unsigned attempt = 0;; ++attempt) {
    // TDX has no privilege levels: `privlevel` is left alone (the provider has none).
    auto report = tsm_.generate({ByteView(report_data), std::nullopt});
    if (report) {
      return check_generated_quote(std::move(report->outblob), report_data,
                                   options_.max_quote_size);
    }
    // Only a failed generation is worth repeating (the quoting service may be restarting);
    // a missing configfs-tsm, a wrong provider or a permission problem will not change.
    if (report.error().code != tsm::Errc::OutblobReadFailed || attempt >= options_.quote_retries) {
      Failure failure = report.error();
      if (attempt > 0) {
        failure.detail += " (after " + std::to_string(attempt + 1) + " attempts)";
      }
      return failure;
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

}  // namespace atls::attest::tdx_gen
