#pragma once
// Intel TDX DCAP quote parser (v4 and v5). Layout: docs/verification.md §1.1, interop spec §4.2,
// Intel "TDX DCAP Quoting Library API" appendix A.3 (quote v4) and A.4 (quote v5).
//
// Parsing is purely structural: every length and offset is checked against the buffer and a
// malformed quote yields a named `tdx.*` error, never an out-of-bounds read. Semantic checks
// (QE vendor, signatures, TCB) belong to verification (quote_verifier.h). Bytes after the
// authentication data are ignored: real quotes carry zero padding (configfs-tsm hands out
// 8000-byte buffers) and go-tdx-guest's sample even carries text; they are not signed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx {

inline constexpr std::uint16_t kAttestationKeyTypeEcdsaP256 = 2;
inline constexpr std::uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr std::uint32_t kTeeTypeTdx = 0x00000081;
inline constexpr std::uint16_t kBodyTypeSgx = 1;
inline constexpr std::uint16_t kBodyTypeTdReport10 = 2;
inline constexpr std::uint16_t kBodyTypeTdReport15 = 3;
inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::size_t kTdReport10Size = 584;
inline constexpr std::size_t kTdReport15Size = 648;
inline constexpr std::size_t kEnclaveReportSize = 384;
inline constexpr std::uint16_t kCertDataQeReport = 6;
inline constexpr std::uint16_t kCertDataPckChain = 5;
/// Intel's quoting enclave vendor id (verification.md §1.1).
inline constexpr std::array<std::uint8_t, 16> kIntelQeVendorId{
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

using Measurement = std::array<std::uint8_t, 48>;

struct QuoteHeader {
  std::uint16_t version = 0;
  std::uint16_t attestation_key_type = 0;
  std::uint32_t tee_type = 0;
  std::uint16_t qe_svn = 0;   ///< v3 only; reserved in v4/v5 (never trusted)
  std::uint16_t pce_svn = 0;  ///< v3 only; reserved in v4/v5 (never trusted)
  std::array<std::uint8_t, 16> qe_vendor_id{};
  std::array<std::uint8_t, 20> user_data{};
};

/// TD report body ("TD Report 1.0", plus the two TD 1.5 fields when body_type == 3).
struct TdReport {
  std::array<std::uint8_t, 16> tee_tcb_svn{};
  Measurement mr_seam{};
  Measurement mr_signer_seam{};
  std::array<std::uint8_t, 8> seam_attributes{};
  std::array<std::uint8_t, 8> td_attributes{};
  std::array<std::uint8_t, 8> xfam{};
  Measurement mr_td{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  std::array<Measurement, 4> rtmr{};
  std::array<std::uint8_t, 64> report_data{};
  std::array<std::uint8_t, 16> tee_tcb_svn2{};  ///< TD 1.5 only (zero otherwise)
  Measurement mr_servicetd{};                   ///< TD 1.5 only (zero otherwise)
};

/// SGX enclave report (used for the QE report), 384 bytes.
struct EnclaveReport {
  std::array<std::uint8_t, 16> cpu_svn{};
  std::uint32_t misc_select = 0;
  std::array<std::uint8_t, 16> attributes{};
  std::array<std::uint8_t, 32> mr_enclave{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  std::array<std::uint8_t, 64> report_data{};
  std::array<std::uint8_t, kEnclaveReportSize> raw{};  ///< the signed bytes
};

struct Quote {
  QuoteHeader header;
  std::uint16_t body_type = kBodyTypeTdReport10;  ///< v4 quotes are always TD report 1.0
  TdReport body;
  /// Bytes covered by the quote signature: header, v5 body descriptor and body.
  Bytes signed_data;
  std::array<std::uint8_t, 64> signature{};        ///< raw r||s, big-endian
  std::array<std::uint8_t, 64> attestation_key{};  ///< raw X||Y, big-endian
  EnclaveReport qe_report;
  std::array<std::uint8_t, 64> qe_report_signature{};
  Bytes qe_auth_data;
  /// PEM text of the PCK chain (certification data type 5), trailing NULs removed.
  std::string pck_chain_pem;
  /// Meaningful bytes (header through the end of the authentication data).
  std::size_t size = 0;
  /// Ignored bytes after the authentication data (padding).
  std::size_t trailing_bytes = 0;
};

/// Parses a TDX quote.
///
/// @return the quote, or one of: tdx.quote_truncated, tdx.unsupported_quote_version,
///   tdx.sgx_quote_not_supported, tdx.not_tdx, tdx.unsupported_key_type,
///   tdx.unsupported_body_type, tdx.body_size_mismatch,
///   tdx.unsupported_certification_data_type, tdx.certification_data_size_mismatch,
///   tdx.unsupported_pck_cert_data_type.
/// @par Thread Safety
/// Pure function.
Outcome<Quote> parse_quote(ByteView bytes);

/// Parses a 384-byte SGX enclave report (no size check beyond `bytes.size() >= 384`).
Outcome<EnclaveReport> parse_enclave_report(ByteView bytes);

}  // namespace atls::attest::tdx
