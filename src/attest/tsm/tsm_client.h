#pragma once
// A client of the Linux configfs-tsm report interface (Documentation/ABI/testing/
// configfs-tsm-report; docs/verification.md §5.1), shared by the SEV-SNP and TDX attesters: it
// only moves bytes and knows nothing about the TEE-specific formats of `outblob`/`auxblob`.
//
// One request:
//   1. mkdir <root>/<unique name>        (configfs creates the entry's attributes with it)
//   2. read `provider` (e.g. "sev_guest", "tdx_guest") and check it, read `generation`
//   3. optionally write `privlevel`, then write the 64-byte `inblob`
//   4. read `outblob` (the kernel generates the report on this read) and `auxblob` (optional)
//   5. re-read `generation`: it must have advanced by exactly our writes, otherwise another
//      writer raced on the entry and the blobs may belong to it — retry with a new entry
//   6. rmdir the entry, always (RAII), also on every error path
//
// All calls block (the kernel talks to the TEE firmware, TDX even to a host quoting service):
// run them on the attestation thread pool, never on an I/O thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tsm {

/// Where configfs-tsm report entries live (configfs mounted at /sys/kernel/config).
inline constexpr std::string_view kDefaultReportRoot = "/sys/kernel/config/tsm/report";
/// TSM_REPORT_INBLOB_MAX (include/linux/tsm.h); every current provider requires exactly 64.
inline constexpr std::size_t kInblobSize = 64;
/// TSM_REPORT_OUTBLOB_MAX (include/linux/tsm.h, 32 KiB): the kernel never returns more for
/// `outblob` or `auxblob`.
inline constexpr std::size_t kMaxBlobSize = std::size_t{32} * 1024;
/// TSM_REPORT_PRIVLEVEL_MAX.
inline constexpr std::uint32_t kMaxPrivlevel = 3;

/// Provider names (the kernel module name, KBUILD_MODNAME, of the TEE guest driver).
namespace providers {
inline constexpr std::string_view kSevGuest = "sev_guest";
inline constexpr std::string_view kTdxGuest = "tdx_guest";
}  // namespace providers

struct TsmClientOptions {
  /// The report directory. Tests point this at a directory served by the fake configfs
  /// (tests/support/fake_configfs_tsm.h).
  std::filesystem::path root{std::string(kDefaultReportRoot)};
  /// Required `provider` value; empty accepts any provider.
  std::string expected_provider;
  /// Attempts when `generation` shows a concurrent writer (each attempt uses a fresh entry).
  unsigned max_attempts = 3;
  /// Requests in flight at once through this client. The kernel serialises report generation
  /// (one rwsem for all entries, and the TEE firmware handles one guest request at a time), so
  /// more would only queue inside the kernel.
  std::size_t max_concurrency = 2;
  /// How long to wait for a free slot before failing with tsm.busy.
  std::chrono::milliseconds slot_wait{30000};
  /// Bound on waiting for an attribute file to appear, and for rmdir to succeed. On a real
  /// configfs both are immediate (attributes exist as soon as mkdir returns); the inotify-based
  /// test fake needs a moment.
  std::chrono::milliseconds attribute_wait{2000};
  /// Upper bound on `outblob` and `auxblob` sizes.
  std::size_t max_blob_size = kMaxBlobSize;
  /// Entry names are "<prefix>-<pid>-<counter>-<random>".
  std::string entry_prefix = "atls";
};

struct TsmRequest {
  /// The report input data; exactly kInblobSize bytes.
  ByteView inblob;
  /// Value for `privlevel` (SEV-SNP: the VMPL of the report, 0–3). nullopt leaves the
  /// attribute alone (the kernel's default is 0).
  std::optional<std::uint32_t> privlevel;
};

struct TsmReport {
  std::string provider;  ///< e.g. "sev_guest"
  Bytes outblob;         ///< never empty
  /// nullopt when the provider has no `auxblob` attribute (TDX); empty when it has one but
  /// returned nothing (SNP without host-provided certificates).
  std::optional<Bytes> auxblob;
  std::uint64_t generation = 0;  ///< `generation` after the request
  unsigned attempts = 1;         ///< 1 + retries caused by concurrent writers
};

/// Counters for metrics.
struct TsmStats {
  std::uint64_t requests = 0;
  std::uint64_t generation_races = 0;  ///< attempts discarded because of a concurrent writer
  std::uint64_t leaked_entries = 0;    ///< entries whose rmdir failed
};

class TsmClient final {
 public:
  explicit TsmClient(TsmClientOptions options = {});
  ~TsmClient();
  TsmClient(const TsmClient&) = delete;
  TsmClient& operator=(const TsmClient&) = delete;

  /// Generates one report. Blocking.
  ///
  /// @return the blobs, or a tsm error: unavailable (no root), no_provider (ENXIO on mkdir),
  /// permission_denied, entry_create_failed, attribute_missing, attribute_read_failed,
  /// attribute_malformed, provider_mismatch, invalid_inblob_size, privlevel_out_of_range,
  /// privlevel_unsupported, privlevel_below_floor, privlevel_write_failed,
  /// inblob_write_failed, outblob_read_failed (the provider failed to generate; the detail
  /// carries the errno), outblob_empty, outblob_too_large, auxblob_read_failed,
  /// auxblob_too_large, generation_race (after max_attempts), busy.
  /// @par Thread Safety
  /// Safe to call concurrently; at most max_concurrency requests run at once.
  Outcome<TsmReport> generate(const TsmRequest& request) const;

  /// Creates and removes an entry just to read its `provider` (for `auto` detection). Blocking;
  /// errors as for generate() up to the provider read. Does not check expected_provider.
  Outcome<std::string> read_provider() const;

  /// Whether the report root exists (a directory). No entry is created.
  bool root_present() const;

  const TsmClientOptions& options() const noexcept;
  TsmStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Parses a configfs decimal attribute ("12\n"): digits, at most one trailing newline, no
/// sign, no overflow. nullopt otherwise. Exposed for tests and fuzzing.
std::optional<std::uint64_t> parse_decimal_attribute(std::string_view text) noexcept;

}  // namespace atls::attest::tsm
