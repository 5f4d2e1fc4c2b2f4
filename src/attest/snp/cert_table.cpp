#include "attest/snp/cert_table.h"

#include <algorithm>

#include "attest/snp/errors.h"
#include "attest/snp/little_endian.h"
#include "core/bytes.h"

namespace atls::attest::snp {
namespace {

using detail::all_zero;
using detail::load_le32;
using detail::store_le32;

Guid guid_of(std::string_view text) noexcept {
  // Only called with the compile-time constants below.
  return Guid::parse(text).value_or(Guid{});
}

struct Range {
  std::uint64_t begin;
  std::uint64_t end;
};

}  // namespace

std::optional<Guid> Guid::parse(std::string_view text) noexcept {
  // 8-4-4-4-12 hex digits.
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  Guid guid;
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    const int high = hex_digit_value(text[i]);
    const int low = i + 1 < text.size() ? hex_digit_value(text[i + 1]) : -1;
    if (high < 0 || low < 0 || out >= guid.bytes.size()) {
      return std::nullopt;
    }
    guid.bytes[out++] = static_cast<std::uint8_t>(high * 16 + low);
    i += 2;
  }
  if (out != guid.bytes.size()) {
    return std::nullopt;
  }
  return guid;
}

std::string Guid::to_string() const {
  const std::string hex = to_hex(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

bool Guid::is_zero() const noexcept {
  return all_zero(bytes);
}

namespace guids {
Guid vcek() noexcept {
  return guid_of("63da758d-e664-4564-adc5-f4b93be8accd");
}
Guid vlek() noexcept {
  return guid_of("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
}
Guid ask() noexcept {
  return guid_of("4ab7b379-bbac-4fe4-a02f-05aef327c782");
}
Guid ark() noexcept {
  return guid_of("c0b406a4-a803-4952-9743-3fb6014cd0ae");
}
Guid extra_platform_info() noexcept {
  return guid_of("ecae0c0f-9502-43b1-afa2-0ae2e0d565b6");
}
}  // namespace guids

const Bytes* CertTable::find(const Guid& guid) const noexcept {
  for (const auto& entry : entries) {
    if (entry.guid == guid) {
      return &entry.data;
    }
  }
  return nullptr;
}

Result<CertTable> parse_cert_table(ByteView table) {
  CertTable result;
  if (table.empty()) {
    return result;
  }

  struct RawEntry {
    Guid guid;
    std::uint64_t offset;
    std::uint64_t length;
  };
  std::vector<RawEntry> raw;
  std::size_t position = 0;
  for (;;) {
    if (table.size() - position < kCertTableEntrySize) {
      return make_error_code(Errc::CertTableTruncated);
    }
    RawEntry entry;
    std::copy_n(table.begin() + static_cast<std::ptrdiff_t>(position), 16,
                entry.guid.bytes.begin());
    entry.offset = load_le32(table, position + 16);
    entry.length = load_le32(table, position + 20);
    position += kCertTableEntrySize;
    if (entry.guid.is_zero() && entry.offset == 0 && entry.length == 0) {
      break;
    }
    if (raw.size() == kCertTableMaxEntries) {
      return make_error_code(Errc::CertTableTooManyEntries);
    }
    raw.push_back(entry);
    if (position == table.size()) {
      return make_error_code(Errc::CertTableUnterminated);
    }
  }

  const std::uint64_t header_end = position;
  std::vector<Range> ranges;
  for (const auto& entry : raw) {
    if (entry.guid.is_zero() || entry.length == 0) {
      return make_error_code(Errc::CertTableEmptyEntry);
    }
    if (entry.offset < header_end || entry.offset + entry.length > table.size()) {
      return make_error_code(Errc::CertTableEntryOutOfBounds);
    }
    for (const auto& other : result.entries) {
      if (other.guid == entry.guid) {
        return make_error_code(Errc::CertTableDuplicateGuid);
      }
    }
    ranges.push_back({entry.offset, entry.offset + entry.length});
    const auto begin = table.begin() + static_cast<std::ptrdiff_t>(entry.offset);
    result.entries.push_back(
        {entry.guid, Bytes(begin, begin + static_cast<std::ptrdiff_t>(entry.length))});
  }

  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::uint64_t covered_to = header_end;
  for (const auto& range : ranges) {
    if (range.begin < covered_to) {
      return make_error_code(Errc::CertTableEntriesOverlap);
    }
    // The gap before this entry is padding and must be zero.
    if (!all_zero(table.subspan(covered_to, range.begin - covered_to))) {
      return make_error_code(Errc::CertTablePaddingNonzero);
    }
    covered_to = range.end;
  }
  if (!all_zero(table.subspan(covered_to))) {
    return make_error_code(Errc::CertTablePaddingNonzero);
  }
  return result;
}

Bytes encode_cert_table(const CertTable& table) {
  const std::size_t header = (table.entries.size() + 1) * kCertTableEntrySize;
  std::size_t total = header;
  for (const auto& entry : table.entries) {
    total += entry.data.size();
  }
  Bytes out(total, 0);
  std::size_t offset = header;
  for (std::size_t i = 0; i < table.entries.size(); ++i) {
    const auto& entry = table.entries[i];
    std::uint8_t* slot = out.data() + i * kCertTableEntrySize;
    std::copy(entry.guid.bytes.begin(), entry.guid.bytes.end(), slot);
    store_le32(slot + 16, static_cast<std::uint32_t>(offset));
    store_le32(slot + 20, static_cast<std::uint32_t>(entry.data.size()));
    std::copy(entry.data.begin(), entry.data.end(),
              out.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += entry.data.size();
  }
  return out;
}

}  // namespace atls::attest::snp
