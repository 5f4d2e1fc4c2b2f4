#pragma once
// On-disk form of one cache entry, and the file operations of the cache directory.
//
// A cache file is `<key>.cache` in the cache directory:
//
//     atls-collateral-cache/1\n
//     {"key":"<key>","fetched_at":<unix seconds>,"payload_size":<n>,"payload_sha256":"<hex>"}\n
//     <n payload bytes>
//
// The payload is opaque here (the loader's serialised documents; for TDX the dcap-qvl JSON
// collateral). Files are written atomically (temporary file in the same directory, fsync,
// rename, fsync of the directory), so a crash leaves either the old or the new file. A file
// that does not parse, whose digest does not match or whose key is not its name is ignored:
// the cache then simply refetches. Cache files are not trusted either way — a loaded payload
// is vetted exactly like a fetched one (document_cache.h).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::collateral {

inline constexpr std::string_view kCacheFileMagic = "atls-collateral-cache/1";
inline constexpr std::string_view kCacheFileSuffix = ".cache";
/// Cache keys: 1-128 characters of [a-z0-9._-], not starting with '.' (so that temporary files,
/// which start with '.', never look like entries).
inline constexpr std::size_t kMaxKeyLength = 128;

bool valid_cache_key(std::string_view key) noexcept;

struct CacheFile {
  std::string key;
  SystemTime fetched_at;
  std::string payload;
};

std::string encode_cache_file(const CacheFile& file);

/// Parses a cache file. collateral.cache_file_malformed (with the reason) on any defect: wrong
/// magic, metadata line missing or longer than 4 KiB, invalid or duplicate-key JSON, unknown or
/// mistyped fields, an invalid key, a payload size or SHA-256 that does not match.
/// @par Thread Safety
/// Pure function.
Outcome<CacheFile> parse_cache_file(std::string_view bytes);

/// Writes `content` to `path` atomically (see above), creating the parent directory. Mode 0644:
/// collateral is public data. collateral.cache_io_failed with the failing step otherwise.
Outcome<void> write_file_atomically(const std::filesystem::path& path, std::string_view content);

/// Reads at most `max_bytes` of a regular file. collateral.cache_io_failed when it cannot be
/// read, collateral.cache_file_malformed when it is larger.
Outcome<std::string> read_file_limited(const std::filesystem::path& path, std::uintmax_t max_bytes);

/// The `*.cache` files of `directory` (sorted by name). An absent directory has none;
/// collateral.cache_io_failed when it cannot be listed.
Outcome<std::vector<std::filesystem::path>> list_cache_files(
    const std::filesystem::path& directory);

/// `directory / (key + ".cache")`.
std::filesystem::path cache_file_path(const std::filesystem::path& directory, std::string_view key);

/// The default cache directory: $ATLS_COLLATERAL_CACHE_DIR, else $XDG_CACHE_HOME/atls-proxy/
/// collateral, else $HOME/.cache/atls-proxy/collateral; empty when none of them is set.
std::filesystem::path default_cache_directory();

}  // namespace atls::attest::collateral
