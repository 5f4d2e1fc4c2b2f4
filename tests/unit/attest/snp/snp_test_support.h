#pragma once
// Helpers shared by the SEV-SNP unit tests: loading the real vectors of
// shared/testdata/VECTORS.md §2 and wrapping them into this project's evidence encoding.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/report.h"
#include "core/bytes.h"
#include "core/digest.h"
#include "support/testdata.h"

namespace atls::attest::snp::testing {

/// A report file: binary, or ASCII hex (".hex", optional 0x prefix). `offset` skips a header
/// (Azure HCL reports carry the SNP report at 0x20); the result is the 1184 report bytes.
inline Bytes load_report(const std::string& name, std::size_t offset = 0) {
  Bytes data = atls::testing::read_bytes(atls::testing::testdata_path(name));
  if (name.ends_with(".hex")) {
    std::string text(data.begin(), data.end());
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.pop_back();
    }
    if (text.starts_with("0x")) {
      text = text.substr(2);
    }
    data = from_hex(text).value_or(Bytes{});
  }
  if (data.size() < offset + kReportSize) {
    ADD_FAILURE() << name << " is too short";
    return Bytes(kReportSize, 0);
  }
  return Bytes(data.begin() + static_cast<std::ptrdiff_t>(offset),
               data.begin() + static_cast<std::ptrdiff_t>(offset + kReportSize));
}

/// A DER file.
inline Bytes load_der(const std::string& name) {
  return atls::testing::read_bytes(atls::testing::testdata_path(name));
}

/// Every certificate of a PEM file, as DER, in file order.
inline std::vector<Bytes> load_pem_chain(const std::string& name) {
  const std::string text = atls::testing::read_text(atls::testing::testdata_path(name));
  auto certs = parse_certificates_pem(text);
  std::vector<Bytes> out;
  if (!certs) {
    ADD_FAILURE() << name << " has no PEM certificates";
    return out;
  }
  for (const auto& cert : *certs) {
    out.push_back(certificate_der(cert.get()));
  }
  return out;
}

/// A certificate table with the given blobs (empty blobs are left out).
inline CertTable make_table(const Bytes& leaf, const Guid& leaf_guid, const Bytes& intermediate,
                            const Bytes& ark) {
  CertTable table;
  if (!leaf.empty()) {
    table.entries.push_back({leaf_guid, leaf});
  }
  if (!intermediate.empty()) {
    table.entries.push_back({guids::ask(), intermediate});
  }
  if (!ark.empty()) {
    table.entries.push_back({guids::ark(), ark});
  }
  return table;
}

inline SystemTime utc(int year, unsigned month, unsigned day) {
  return std::chrono::sys_days(std::chrono::year(year) / std::chrono::month(month) /
                               std::chrono::day(day));
}

inline ReportData report_data_of(const Bytes& report) {
  ReportData data{};
  std::copy_n(report.begin() + 0x50, 64, data.begin());
  return data;
}

}  // namespace atls::attest::snp::testing
