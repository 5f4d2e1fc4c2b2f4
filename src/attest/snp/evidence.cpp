#include "attest/snp/evidence.h"

#include <algorithm>

#include "attest/snp/errors.h"
#include "attest/snp/little_endian.h"
#include "attest/snp/report.h"

namespace atls::attest::snp {
namespace {

using detail::load_le32;
using detail::store_le16;
using detail::store_le32;

std::uint16_t load_le16(ByteView data, std::size_t offset) noexcept {
  return static_cast<std::uint16_t>(data[offset] | (data[offset + 1] << 8));
}

}  // namespace

Result<Evidence> decode_evidence(ByteView data) {
  if (data.size() < kEvidenceHeaderSize) {
    // A prefix of the magic is still "too short" rather than "wrong magic".
    const std::size_t compared = std::min(data.size(), kEvidenceMagic.size());
    if (!std::equal(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(compared),
                    kEvidenceMagic.begin())) {
      return make_error_code(Errc::EvidenceBadMagic);
    }
    return make_error_code(Errc::EvidenceTruncated);
  }
  if (!std::equal(kEvidenceMagic.begin(), kEvidenceMagic.end(), data.begin())) {
    return make_error_code(Errc::EvidenceBadMagic);
  }
  if (load_le16(data, 4) != kEvidenceVersion) {
    return make_error_code(Errc::UnsupportedEvidenceVersion);
  }
  if (load_le16(data, 6) != 0) {
    return make_error_code(Errc::EvidenceReservedNonzero);
  }
  if (load_le32(data, 8) != kReportSize) {
    return make_error_code(Errc::EvidenceBadReportLength);
  }
  const std::size_t table_size = load_le32(data, 12);
  if (table_size > kMaxCertTableSize) {
    return make_error_code(Errc::EvidenceTooLarge);
  }
  const std::size_t total = kEvidenceHeaderSize + kReportSize + table_size;
  if (data.size() < total) {
    return make_error_code(Errc::EvidenceTruncated);
  }
  if (data.size() > total) {
    return make_error_code(Errc::EvidenceTrailingBytes);
  }
  Evidence evidence;
  const auto report = data.subspan(kEvidenceHeaderSize, kReportSize);
  evidence.report.assign(report.begin(), report.end());
  auto table = parse_cert_table(data.subspan(kEvidenceHeaderSize + kReportSize));
  if (!table) {
    return table.error();
  }
  evidence.certificates = std::move(*table);
  return evidence;
}

Bytes encode_evidence(ByteView report, const CertTable& certificates) {
  const Bytes table = certificates.empty() ? Bytes{} : encode_cert_table(certificates);
  // Sized once and filled in place (vector::insert here trips a GCC 12 -O2 -Warray-bounds
  // false positive).
  Bytes out(kEvidenceHeaderSize + report.size() + table.size(), 0);
  std::copy(kEvidenceMagic.begin(), kEvidenceMagic.end(), out.begin());
  store_le16(out.data() + 4, kEvidenceVersion);
  store_le16(out.data() + 6, 0);
  store_le32(out.data() + 8, static_cast<std::uint32_t>(report.size()));
  store_le32(out.data() + 12, static_cast<std::uint32_t>(table.size()));
  auto cursor = out.begin() + static_cast<std::ptrdiff_t>(kEvidenceHeaderSize);
  cursor = std::copy(report.begin(), report.end(), cursor);
  std::copy(table.begin(), table.end(), cursor);
  return out;
}

}  // namespace atls::attest::snp
