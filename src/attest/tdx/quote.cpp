#include "attest/tdx/quote.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "attest/tdx/errors.h"

namespace atls::attest::tdx {
namespace {

/// Bounds-checked little-endian reader over untrusted bytes. Every accessor reports failure
/// instead of reading past the end, so the parser below never indexes the buffer directly.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  std::size_t offset() const noexcept { return offset_; }
  std::size_t remaining() const noexcept { return data_.size() - offset_; }

  bool skip(std::size_t count) noexcept {
    if (count > remaining()) {
      return false;
    }
    offset_ += count;
    return true;
  }
  bool u16(std::uint16_t& out) noexcept {
    if (remaining() < 2) {
      return false;
    }
    out = static_cast<std::uint16_t>(data_[offset_] | (data_[offset_ + 1] << 8));
    offset_ += 2;
    return true;
  }
  bool u32(std::uint32_t& out) noexcept {
    if (remaining() < 4) {
      return false;
    }
    out = static_cast<std::uint32_t>(data_[offset_]) |
          (static_cast<std::uint32_t>(data_[offset_ + 1]) << 8) |
          (static_cast<std::uint32_t>(data_[offset_ + 2]) << 16) |
          (static_cast<std::uint32_t>(data_[offset_ + 3]) << 24);
    offset_ += 4;
    return true;
  }
  template <std::size_t N>
  bool bytes(std::array<std::uint8_t, N>& out) noexcept {
    if (remaining() < N) {
      return false;
    }
    std::memcpy(out.data(), data_.data() + offset_, N);
    offset_ += N;
    return true;
  }
  bool view(std::size_t count, ByteView& out) noexcept {
    if (count > remaining()) {
      return false;
    }
    out = data_.subspan(offset_, count);
    offset_ += count;
    return true;
  }

 private:
  ByteView data_;
  std::size_t offset_ = 0;
};

Failure fail(Errc code, std::string detail) {
  return Failure{make_error_code(code), std::move(detail)};
}

Failure truncated(std::string_view what, std::size_t offset) {
  return fail(Errc::QuoteTruncated,
              std::string(what) + " at offset " + std::to_string(offset) + " runs past the end");
}

// TD report layout: verification.md §1.1 table, Intel TDX module ABI "TDREPORT_STRUCT".
bool read_td_report(Reader& in, bool td15, TdReport& out) {
  bool ok = in.bytes(out.tee_tcb_svn) && in.bytes(out.mr_seam) && in.bytes(out.mr_signer_seam) &&
            in.bytes(out.seam_attributes) && in.bytes(out.td_attributes) && in.bytes(out.xfam) &&
            in.bytes(out.mr_td) && in.bytes(out.mr_config_id) && in.bytes(out.mr_owner) &&
            in.bytes(out.mr_owner_config);
  for (auto& rtmr : out.rtmr) {
    ok = ok && in.bytes(rtmr);
  }
  ok = ok && in.bytes(out.report_data);
  if (td15) {
    ok = ok && in.bytes(out.tee_tcb_svn2) && in.bytes(out.mr_servicetd);
  }
  return ok;
}

}  // namespace

Outcome<EnclaveReport> parse_enclave_report(ByteView bytes) {
  if (bytes.size() < kEnclaveReportSize) {
    return truncated("enclave report", 0);
  }
  // SGX REPORT_BODY (Intel SDM Vol. 3D §38.15): reserved gaps at 0x14, 0x60, 0xA0, 0x104.
  EnclaveReport report;
  std::memcpy(report.raw.data(), bytes.data(), kEnclaveReportSize);
  Reader in(bytes.first(kEnclaveReportSize));
  std::uint32_t misc = 0;
  std::uint16_t prod = 0;
  std::uint16_t svn = 0;
  const bool ok = in.bytes(report.cpu_svn) && in.u32(misc) && in.skip(28) &&
                  in.bytes(report.attributes) && in.bytes(report.mr_enclave) && in.skip(32) &&
                  in.bytes(report.mr_signer) && in.skip(96) && in.u16(prod) && in.u16(svn) &&
                  in.skip(60) && in.bytes(report.report_data);
  if (!ok) {
    return truncated("enclave report", in.offset());
  }
  report.misc_select = misc;
  report.isv_prod_id = prod;
  report.isv_svn = svn;
  return report;
}

Outcome<Quote> parse_quote(ByteView bytes) {
  Quote quote;
  Reader in(bytes);
  auto& header = quote.header;
  if (!(in.u16(header.version) && in.u16(header.attestation_key_type) && in.u32(header.tee_type) &&
        in.u16(header.qe_svn) && in.u16(header.pce_svn) && in.bytes(header.qe_vendor_id) &&
        in.bytes(header.user_data))) {
    return truncated("quote header", in.offset());
  }
  // Step 1 of verification.md §1.3: version, TEE type and key type are checked before any
  // length field is trusted, so that SGX quotes get a clear name instead of a size error.
  if (header.version < 3 || header.version > 5) {
    return fail(Errc::UnsupportedQuoteVersion, "version " + std::to_string(header.version));
  }
  if (header.tee_type == kTeeTypeSgx) {
    return fail(Errc::SgxQuoteNotSupported, "version " + std::to_string(header.version));
  }
  if (header.tee_type != kTeeTypeTdx) {
    return fail(Errc::NotTdx, "TEE type " + std::to_string(header.tee_type));
  }
  if (header.version == 3) {
    return fail(Errc::UnsupportedQuoteVersion, "version 3 with TDX TEE type");
  }
  if (header.attestation_key_type != kAttestationKeyTypeEcdsaP256) {
    return fail(Errc::UnsupportedKeyType,
                "attestation key type " + std::to_string(header.attestation_key_type));
  }

  if (header.version == 5) {
    // Quote v5 body descriptor (Quoting Library API A.4): u16 type, u32 size.
    std::uint16_t body_type = 0;
    std::uint32_t body_size = 0;
    if (!(in.u16(body_type) && in.u32(body_size))) {
      return truncated("v5 body descriptor", in.offset());
    }
    if (body_type == kBodyTypeSgx) {
      return fail(Errc::SgxQuoteNotSupported, "v5 body type 1 (SGX enclave report)");
    }
    if (body_type != kBodyTypeTdReport10 && body_type != kBodyTypeTdReport15) {
      return fail(Errc::UnsupportedBodyType, "body type " + std::to_string(body_type));
    }
    const std::size_t expected =
        body_type == kBodyTypeTdReport10 ? kTdReport10Size : kTdReport15Size;
    if (body_size != expected) {
      return fail(Errc::BodySizeMismatch, "body type " + std::to_string(body_type) + " with size " +
                                              std::to_string(body_size));
    }
    quote.body_type = body_type;
  }
  if (!read_td_report(in, quote.body_type == kBodyTypeTdReport15, quote.body)) {
    return truncated("TD report body", in.offset());
  }
  const std::size_t signed_size = in.offset();
  quote.signed_data.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(signed_size));

  std::uint32_t auth_size = 0;
  if (!in.u32(auth_size)) {
    return truncated("signature data length", in.offset());
  }
  ByteView auth_view;
  if (!in.view(auth_size, auth_view)) {
    return truncated("signature data of " + std::to_string(auth_size) + " bytes", in.offset());
  }
  quote.size = in.offset();
  quote.trailing_bytes = in.remaining();

  // ECDSA 256-bit quote signature data (Quoting Library API A.3.8): signature, attestation
  // key, then certification data. Every inner size must stay inside `auth_size`.
  Reader auth(auth_view);
  const std::size_t auth_base = signed_size + 4;
  std::uint16_t cert_type = 0;
  std::uint32_t cert_size = 0;
  if (!(auth.bytes(quote.signature) && auth.bytes(quote.attestation_key) && auth.u16(cert_type) &&
        auth.u32(cert_size))) {
    return truncated("signature data", auth_base + auth.offset());
  }
  if (cert_type != kCertDataQeReport) {
    return fail(Errc::UnsupportedCertificationDataType,
                "certification data type " + std::to_string(cert_type));
  }
  ByteView cert_view;
  if (!auth.view(cert_size, cert_view)) {
    return fail(Errc::CertificationDataSizeMismatch,
                "certification data of " + std::to_string(cert_size) + " bytes exceeds the " +
                    std::to_string(auth_view.size()) + "-byte signature data");
  }
  if (auth.remaining() != 0) {
    return fail(Errc::CertificationDataSizeMismatch,
                std::to_string(auth.remaining()) + " unused bytes in the signature data");
  }

  // QE report certification data (A.3.11): QE report, its signature, QE auth data, then the
  // nested certification data carrying the PCK chain.
  Reader cert(cert_view);
  const std::size_t cert_base = auth_base + auth.offset() - cert_view.size();
  ByteView report_view;
  std::uint16_t qe_auth_size = 0;
  ByteView qe_auth_view;
  std::uint16_t inner_type = 0;
  std::uint32_t inner_size = 0;
  if (!(cert.view(kEnclaveReportSize, report_view) && cert.bytes(quote.qe_report_signature) &&
        cert.u16(qe_auth_size) && cert.view(qe_auth_size, qe_auth_view) && cert.u16(inner_type) &&
        cert.u32(inner_size))) {
    return fail(
        Errc::CertificationDataSizeMismatch,
        "QE report certification data ends at offset " + std::to_string(cert_base + cert.offset()));
  }
  auto report = parse_enclave_report(report_view);
  if (!report) {
    return report.error();
  }
  quote.qe_report = *report;
  quote.qe_auth_data.assign(qe_auth_view.begin(), qe_auth_view.end());
  if (inner_type != kCertDataPckChain) {
    return fail(Errc::UnsupportedPckCertDataType,
                "inner certification data type " + std::to_string(inner_type));
  }
  ByteView pem_view;
  if (!cert.view(inner_size, pem_view)) {
    return fail(Errc::CertificationDataSizeMismatch, "PCK chain of " + std::to_string(inner_size) +
                                                         " bytes exceeds the certification data");
  }
  if (cert.remaining() != 0) {
    return fail(Errc::CertificationDataSizeMismatch,
                std::to_string(cert.remaining()) + " unused bytes after the PCK chain");
  }
  // The chain is PEM text, sometimes NUL-terminated (verification.md §1.1 item 3).
  std::string_view pem(reinterpret_cast<const char*>(pem_view.data()), pem_view.size());
  while (!pem.empty() && pem.back() == '\0') {
    pem.remove_suffix(1);
  }
  quote.pck_chain_pem.assign(pem);
  return quote;
}

}  // namespace atls::attest::tdx
