#pragma once
// The certificate table that SNP_GET_EXT_REPORT and the configfs-tsm `auxblob` return (AMD GHCB
// spec §4.1.8.1 "SNP Extended Guest Request", docs/verification.md §5.2): a list of
// {GUID (16 bytes), offset u32 LE, length u32 LE} entries terminated by an all-zero entry,
// followed by the DER certificates; offsets count from the start of the table.
// Pure computation: strict parsing of untrusted bytes and canonical encoding.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

/// A GUID in the byte order the kernel and go-sev-guest use: the RFC 4122 textual order
/// ("63da758d-e664-…" is stored as 63 da 75 8d e6 64 …).
struct Guid {
  std::array<std::uint8_t, 16> bytes{};

  /// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case). nullopt on anything else.
  static std::optional<Guid> parse(std::string_view text) noexcept;
  /// Lowercase textual form.
  std::string to_string() const;
  bool is_zero() const noexcept;

  friend bool operator==(const Guid&, const Guid&) = default;
};

/// GUIDs defined by the GHCB spec (and go-sev-guest's abi package).
namespace guids {
Guid vcek() noexcept;                 ///< 63da758d-e664-4564-adc5-f4b93be8accd
Guid vlek() noexcept;                 ///< a8074bc2-a25a-483e-aae6-39c045a0b8a1
Guid ask() noexcept;                  ///< 4ab7b379-bbac-4fe4-a02f-05aef327c782 (ASK or ASVK)
Guid ark() noexcept;                  ///< c0b406a4-a803-4952-9743-3fb6014cd0ae
Guid extra_platform_info() noexcept;  ///< ecae0c0f-9502-43b1-afa2-0ae2e0d565b6
}  // namespace guids

struct CertTableEntry {
  Guid guid;
  Bytes data;  ///< DER certificate (or other blob for unknown GUIDs)
};

/// Entries in table order. Unknown GUIDs are kept (and ignored by the verifier).
struct CertTable {
  std::vector<CertTableEntry> entries;

  /// The blob stored under `guid`, or nullptr.
  const Bytes* find(const Guid& guid) const noexcept;
  bool empty() const noexcept { return entries.empty(); }
};

inline constexpr std::size_t kCertTableEntrySize = 24;
/// Upper bound on entries (the kernel returns at most a handful: VCEK/VLEK, ASK, ARK, extras).
inline constexpr std::size_t kCertTableMaxEntries = 16;

/// Parses a certificate table. An empty input is an empty table.
///
/// Strict: every entry must be complete (cert_table_truncated), the list must end with an
/// all-zero entry (cert_table_unterminated) within kCertTableMaxEntries entries
/// (cert_table_too_many_entries); each entry needs a non-zero GUID and length
/// (cert_table_empty_entry), must lie after the entry list and inside the input
/// (cert_table_entry_out_of_bounds), must not overlap another (cert_table_entries_overlap) or
/// repeat a GUID (cert_table_duplicate_guid); bytes covered by no entry must be zero, which
/// admits the kernel's page padding (cert_table_padding_nonzero).
/// Never reads outside `table`; 64-bit arithmetic for offset + length. Thread-safe.
Result<CertTable> parse_cert_table(ByteView table);

/// Canonical encoding: the entry list, the terminator, then each blob in entry order with no
/// padding. parse_cert_table(encode_cert_table(t)) == t for any table with distinct non-zero
/// GUIDs and non-empty blobs.
Bytes encode_cert_table(const CertTable& table);

}  // namespace atls::attest::snp
