#include "attest/tdx_gen/errors.h"

#include <array>

namespace atls::attest::tdx_gen {
namespace {

constexpr std::array kTable{
    errc_row(Errc::UnsupportedAttestationType, "unsupported_attestation_type",
             "the TDX attester generates dcap-tdx, gcp-tdx or qemu-tdx evidence only"),
    errc_row(Errc::GeneratedQuoteInvalid, "generated_quote_invalid",
             "the quote returned by configfs-tsm is not a well-formed DCAP quote"),
    errc_row(Errc::GeneratedQuoteNotTdx, "generated_quote_not_tdx",
             "the quote returned by configfs-tsm is not a TDX quote"),
    errc_row(Errc::GeneratedQuoteTooLarge, "generated_quote_too_large",
             "the quote returned by configfs-tsm exceeds the size limit"),
    errc_row(Errc::GeneratedReportDataMismatch, "generated_report_data_mismatch",
             "the generated quote does not bind the requested report data"),
};

const NamedCategory kCategory{"tdx_gen", kTable};

}  // namespace

const NamedCategory& tdx_gen_category() noexcept {
  return kCategory;
}

}  // namespace atls::attest::tdx_gen
