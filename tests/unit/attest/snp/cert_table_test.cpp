// The GHCB certificate table (SNP_GET_EXT_REPORT / configfs-tsm auxblob) and this project's
// SNP evidence container (docs/protocol.md §7).
#include "attest/snp/cert_table.h"

#include <gtest/gtest.h>

#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/little_endian.h"
#include "attest/snp/report.h"

namespace atls::attest::snp {
namespace {

using detail::store_le32;

CertTable sample_table() {
  CertTable table;
  table.entries.push_back({guids::vcek(), Bytes(100, 0x11)});
  table.entries.push_back({guids::ask(), Bytes(50, 0x22)});
  table.entries.push_back({guids::ark(), Bytes(7, 0x33)});
  return table;
}

std::string table_error(ByteView bytes) {
  const auto parsed = parse_cert_table(bytes);
  return parsed ? "ok" : error_id(parsed.error());
}

// Raw table bytes: entries {guid, offset, length}, then `data_size` bytes of 0xab.
Bytes raw_table(const std::vector<std::tuple<Guid, std::uint32_t, std::uint32_t>>& entries,
                bool terminate, std::size_t data_size) {
  Bytes out;
  for (const auto& [guid, offset, length] : entries) {
    out.insert(out.end(), guid.bytes.begin(), guid.bytes.end());
    std::uint8_t numbers[8];
    store_le32(numbers, offset);
    store_le32(numbers + 4, length);
    out.insert(out.end(), numbers, numbers + 8);
  }
  if (terminate) {
    out.insert(out.end(), kCertTableEntrySize, 0);
  }
  out.insert(out.end(), data_size, 0xab);
  return out;
}

TEST(SnpCertTable, GuidsUseTextualByteOrder) {
  EXPECT_EQ(to_hex(guids::vcek().bytes), "63da758de6644564adc5f4b93be8accd");
  EXPECT_EQ(guids::vcek().to_string(), "63da758d-e664-4564-adc5-f4b93be8accd");
  EXPECT_EQ(guids::vlek().to_string(), "a8074bc2-a25a-483e-aae6-39c045a0b8a1");
  EXPECT_EQ(guids::ask().to_string(), "4ab7b379-bbac-4fe4-a02f-05aef327c782");
  EXPECT_EQ(guids::ark().to_string(), "c0b406a4-a803-4952-9743-3fb6014cd0ae");
  EXPECT_EQ(guids::extra_platform_info().to_string(), "ecae0c0f-9502-43b1-afa2-0ae2e0d565b6");
  EXPECT_EQ(Guid::parse("63DA758D-E664-4564-ADC5-F4B93BE8ACCD"), guids::vcek());
  for (const char* bad :
       {"", "63da758d-e664-4564-adc5-f4b93be8acc", "63da758d_e664-4564-adc5-f4b93be8accd",
        "63da758d-e664-4564-adc5-f4b93be8accg", "63da758de6644564adc5f4b93be8accd"}) {
    EXPECT_FALSE(Guid::parse(bad)) << bad;
  }
}

TEST(SnpCertTable, RoundTrip) {
  const CertTable table = sample_table();
  const Bytes encoded = encode_cert_table(table);
  EXPECT_EQ(encoded.size(), 4 * kCertTableEntrySize + 157);
  const auto parsed = parse_cert_table(encoded);
  ASSERT_TRUE(parsed) << error_id(parsed.error());
  ASSERT_EQ(parsed->entries.size(), 3U);
  EXPECT_EQ(*parsed->find(guids::vcek()), Bytes(100, 0x11));
  EXPECT_EQ(*parsed->find(guids::ark()), Bytes(7, 0x33));
  EXPECT_EQ(parsed->find(guids::vlek()), nullptr);
  EXPECT_TRUE(parse_cert_table({})->empty());
  // Only a terminator: an empty table.
  EXPECT_TRUE(parse_cert_table(Bytes(kCertTableEntrySize, 0))->empty());
}

TEST(SnpCertTable, KernelPagePaddingIsAccepted) {
  Bytes encoded = encode_cert_table(sample_table());
  encoded.resize(4096, 0);
  EXPECT_EQ(table_error(encoded), "ok");
  encoded[4000] = 1;
  EXPECT_EQ(table_error(encoded), "snp.cert_table_padding_nonzero");
}

TEST(SnpCertTable, TruncationAtEveryLengthIsNamed) {
  const Bytes encoded = encode_cert_table(sample_table());
  for (std::size_t length = 1; length < encoded.size(); ++length) {
    const std::string error = table_error(ByteView(encoded).first(length));
    EXPECT_TRUE(error == "snp.cert_table_truncated" || error == "snp.cert_table_unterminated" ||
                error == "snp.cert_table_entry_out_of_bounds")
        << length << ": " << error;
  }
}

TEST(SnpCertTable, StructuralErrors) {
  const Guid vcek = guids::vcek();
  const Guid ask = guids::ask();
  const std::uint32_t header2 = 2 * kCertTableEntrySize;  // one entry + terminator
  const std::uint32_t header3 = 3 * kCertTableEntrySize;

  EXPECT_EQ(table_error(raw_table({{vcek, header2, 10}}, false, 0)), "snp.cert_table_unterminated");
  EXPECT_EQ(table_error(raw_table({{vcek, header2, 10}}, true, 10)), "ok");
  EXPECT_EQ(table_error(raw_table({{vcek, header2, 11}}, true, 10)),
            "snp.cert_table_entry_out_of_bounds");
  EXPECT_EQ(table_error(raw_table({{vcek, 0, 10}}, true, 10)),
            "snp.cert_table_entry_out_of_bounds");  // points into the entry list
  EXPECT_EQ(table_error(raw_table({{vcek, 0xfffffff0, 0x20}}, true, 10)),
            "snp.cert_table_entry_out_of_bounds");  // offset + length overflows 32 bits
  EXPECT_EQ(table_error(raw_table({{vcek, header2, 0}}, true, 10)), "snp.cert_table_empty_entry");
  EXPECT_EQ(table_error(raw_table({{Guid{}, header2, 10}}, true, 10)),
            "snp.cert_table_empty_entry");
  EXPECT_EQ(table_error(raw_table({{vcek, header3, 10}, {ask, header3 + 5, 10}}, true, 20)),
            "snp.cert_table_entries_overlap");
  EXPECT_EQ(table_error(raw_table({{vcek, header3, 10}, {vcek, header3 + 10, 10}}, true, 20)),
            "snp.cert_table_duplicate_guid");
  EXPECT_EQ(table_error(raw_table({{vcek, header2, 10}}, true, 11)),
            "snp.cert_table_padding_nonzero");

  std::vector<std::tuple<Guid, std::uint32_t, std::uint32_t>> many;
  for (std::size_t i = 0; i <= kCertTableMaxEntries; ++i) {
    Guid guid;
    guid.bytes[0] = static_cast<std::uint8_t>(i + 1);
    many.emplace_back(guid, 1000, 1);
  }
  EXPECT_EQ(table_error(raw_table(many, true, 2000)), "snp.cert_table_too_many_entries");
}

TEST(SnpEvidence, RoundTripWithAndWithoutCertificates) {
  const Bytes report(kReportSize, 0x5a);
  const Bytes bare = encode_evidence(report, {});
  EXPECT_EQ(bare.size(), kEvidenceHeaderSize + kReportSize);
  EXPECT_EQ(to_hex(ByteView(bare).first(16)), "534e504501000000a004000000000000");
  auto decoded = decode_evidence(bare);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->report, report);
  EXPECT_TRUE(decoded->certificates.empty());

  const Bytes full = encode_evidence(report, sample_table());
  decoded = decode_evidence(full);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->certificates.entries.size(), 3U);
  EXPECT_EQ(*decoded->certificates.find(guids::ask()), Bytes(50, 0x22));
}

TEST(SnpEvidence, TruncationAtEveryLengthIsNamed) {
  const Bytes full = encode_evidence(Bytes(kReportSize, 0), sample_table());
  for (std::size_t length = 0; length < full.size(); ++length) {
    const auto decoded = decode_evidence(ByteView(full).first(length));
    ASSERT_FALSE(decoded);
    EXPECT_EQ(error_id(decoded.error()), "snp.evidence_truncated") << length;
  }
}

TEST(SnpEvidence, HeaderErrors) {
  const Bytes good = encode_evidence(Bytes(kReportSize, 0), sample_table());
  const auto error_after = [&good](std::size_t offset, std::uint8_t value) {
    Bytes bytes = good;
    bytes[offset] = value;
    const auto decoded = decode_evidence(bytes);
    return decoded ? "ok" : error_id(decoded.error());
  };
  EXPECT_EQ(error_after(0, 'X'), "snp.evidence_bad_magic");
  EXPECT_EQ(error_after(4, 2), "snp.unsupported_evidence_version");
  EXPECT_EQ(error_after(5, 1), "snp.unsupported_evidence_version");
  EXPECT_EQ(error_after(6, 1), "snp.evidence_reserved_nonzero");
  EXPECT_EQ(error_after(8, 0xa1), "snp.evidence_bad_report_length");
  EXPECT_EQ(error_after(14, 0x01), "snp.evidence_too_large");  // table length ≥ 64 KiB
  EXPECT_EQ(error_id(decode_evidence(Bytes{'A', 'B'}).error()), "snp.evidence_bad_magic");
  EXPECT_EQ(error_id(decode_evidence(Bytes{}).error()), "snp.evidence_truncated");

  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(error_id(decode_evidence(trailing).error()), "snp.evidence_trailing_bytes");

  // A raw 1184-byte report is not evidence.
  EXPECT_EQ(error_id(decode_evidence(Bytes(kReportSize, 0)).error()), "snp.evidence_bad_magic");
}

}  // namespace
}  // namespace atls::attest::snp
