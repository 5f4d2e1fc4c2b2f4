#pragma once
// Named failures of TDX evidence generation through configfs-tsm (tdx_attester.h;
// docs/verification.md §5.1, interop spec §4.4). Configfs-tsm failures keep their own "tsm.*"
// codes; these cover what this module adds: the type and the check of the generated quote
// before it leaves the machine. The names ("tdx_gen.generated_report_data_mismatch") appear in
// logs and metrics, so they are stable.

#include "core/error.h"

namespace atls::attest::tdx_gen {

enum class Errc {
  /// The attester was asked for a type it does not produce (only dcap-tdx, gcp-tdx, qemu-tdx;
  /// azure-tdx evidence is a vTPM document, interop spec §4.3).
  UnsupportedAttestationType = 1,
  /// The outblob does not parse as a DCAP quote (the tdx.* parser error is in the detail).
  GeneratedQuoteInvalid,
  /// The outblob is a quote, but not a TDX one (SGX quote, other TEE type).
  GeneratedQuoteNotTdx,
  /// The outblob is larger than TdxAttesterOptions::max_quote_size.
  GeneratedQuoteTooLarge,
  /// The quote's REPORTDATA is not the 64 bytes this request wrote to inblob.
  GeneratedReportDataMismatch,
};

ATLS_DECLARE_ERRC(Errc, tdx_gen_category)

}  // namespace atls::attest::tdx_gen

ATLS_REGISTER_ERRC(atls::attest::tdx_gen::Errc);
