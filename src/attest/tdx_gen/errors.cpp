#include "attest/tdx_gen/errors.h"

#include <array>

namespace atls::attest::tdx_gen {
namespace {

constexpr std::array kTable{
    errc_row(Errc::UnsupportedAttestationType, "unsupported_attestation_type",
             "the TDX attester generates dcap-tdx, gcp-tdx or qemu-tdx evidence only"),
    errc_row(Errc::GeneratedQuoteInvalid, "generated_quote_invalid",
             "the generated quote is not a well-formed DCAP quote"),
    errc_row(Errc::GeneratedQuoteNotTdx, "generated_quote_not_tdx",
             "the generated quote is not a TDX quote"),
    errc_row(Errc::GeneratedQuoteTooLarge, "generated_quote_too_large",
             "the generated quote exceeds the size limit"),
    errc_row(Errc::GeneratedReportDataMismatch, "generated_report_data_mismatch",
             "the generated quote does not bind the requested report data"),
    errc_row(Errc::GenerationUnavailable, "generation_unavailable",
             "neither configfs-tsm nor the TDX guest device is available"),
    errc_row(Errc::DeviceOpenFailed, "device_open_failed", "cannot open the TDX guest device"),
    errc_row(Errc::DeviceReportFailed, "device_report_failed",
             "TDX_CMD_GET_REPORT0 failed: no TDREPORT"),
    errc_row(Errc::DeviceQuoteUnsupported, "device_quote_unsupported",
             "this kernel's TDX guest device has no TDX_CMD_GET_QUOTE"),
    errc_row(Errc::DeviceQuoteFailed, "device_quote_failed", "TDX_CMD_GET_QUOTE failed"),
    errc_row(Errc::DeviceQuoteStatusError, "device_quote_status_error",
             "the host reported an error for the GetQuote request"),
    errc_row(Errc::DeviceQuoteServiceUnavailable, "device_quote_service_unavailable",
             "the host has no quoting service for the GetQuote request"),
    errc_row(Errc::DeviceQuoteInFlight, "device_quote_in_flight",
             "the GetQuote request did not complete within the retries"),
    errc_row(Errc::DeviceQuoteResponseInvalid, "device_quote_response_invalid",
             "the GetQuote buffer returned by the host is inconsistent"),
    errc_row(Errc::QgsMessageTruncated, "qgs_message_truncated", "the QGS message is truncated"),
    errc_row(Errc::QgsMessageSizeMismatch, "qgs_message_size_mismatch",
             "the QGS message sizes are inconsistent"),
    errc_row(Errc::QgsMessageVersionUnsupported, "qgs_message_version_unsupported",
             "the QGS message has an unsupported major version"),
    errc_row(Errc::QgsMessageTypeUnexpected, "qgs_message_type_unexpected",
             "the QGS message has an unexpected type"),
    errc_row(Errc::QgsErrorResponse, "qgs_error_response",
             "the quoting service answered with an error code"),
    errc_row(Errc::QgsQuoteEmpty, "qgs_quote_empty",
             "the quoting service answered success without a quote"),
    errc_row(Errc::QgsAddressInvalid, "qgs_address_invalid",
             "the QGS address is not vsock:CID:PORT, unix:/path or tcp:IPV4:PORT"),
    errc_row(Errc::QgsConnectFailed, "qgs_connect_failed", "cannot connect to the quoting service"),
    errc_row(Errc::QgsIoFailed, "qgs_io_failed",
             "the connection to the quoting service failed before a complete response"),
    errc_row(Errc::QgsTimeout, "qgs_timeout", "the quoting service did not answer in time"),
    errc_row(Errc::QgsResponseTooLarge, "qgs_response_too_large",
             "the quoting service's response exceeds the size limit"),
};

const NamedCategory kCategory{"tdx_gen", kTable};

}  // namespace

const NamedCategory& tdx_gen_category() noexcept {
  return kCategory;
}

}  // namespace atls::attest::tdx_gen
