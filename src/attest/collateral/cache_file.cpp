#include "attest/collateral/cache_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attest/collateral/errors.h"
#include "core/bytes.h"
#include "core/digest.h"
#include "core/json.h"

namespace atls::attest::collateral {
namespace {

constexpr std::size_t kMaxMetadataBytes = 4096;

Failure malformed(std::string detail) {
  return Failure{make_error_code(Errc::CacheFileMalformed), std::move(detail)};
}

Failure io_failed(const std::filesystem::path& path, std::string_view step) {
  return Failure{make_error_code(Errc::CacheIoFailed),
                 std::string(step) + " " + path.string() + ": " + std::strerror(errno)};
}

/// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

bool valid_cache_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeyLength || key.front() == '.') {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string encode_cache_file(const CacheFile& file) {
  nlohmann::ordered_json metadata;
  metadata["key"] = file.key;
  metadata["fetched_at"] =
      std::chrono::duration_cast<std::chrono::seconds>(file.fetched_at.time_since_epoch()).count();
  metadata["payload_size"] = file.payload.size();
  metadata["payload_sha256"] = sha256_hex(file.payload);
  std::string out(kCacheFileMagic);
  out += '\n';
  out += metadata.dump();
  out += '\n';
  out += file.payload;
  return out;
}

Outcome<CacheFile> parse_cache_file(std::string_view bytes) {
  const std::size_t magic_end = bytes.find('\n');
  if (magic_end == std::string_view::npos || bytes.substr(0, magic_end) != kCacheFileMagic) {
    return malformed("not an atls-collateral-cache/1 file");
  }
  const std::string_view rest = bytes.substr(magic_end + 1);
  const std::size_t metadata_end = rest.substr(0, kMaxMetadataBytes).find('\n');
  if (metadata_end == std::string_view::npos) {
    return malformed("metadata line missing or longer than 4096 bytes");
  }
  auto metadata = parse_json_strict(rest.substr(0, metadata_end), 4);
  if (!metadata) {
    return malformed("metadata: " + metadata.error().describe());
  }
  if (!metadata->is_object()) {
    return malformed("metadata is not a JSON object");
  }
  const std::string_view payload = rest.substr(metadata_end + 1);
  CacheFile out;
  bool have_key = false;
  bool have_time = false;
  bool have_size = false;
  bool have_digest = false;
  for (const auto& [name, value] : metadata->items()) {
    if (name == "key" && value.is_string()) {
      out.key = value.get<std::string>();
      have_key = valid_cache_key(out.key);
    } else if (name == "fetched_at" && value.is_number_integer()) {
      const auto seconds = value.get<std::int64_t>();
      // Any time in [1970, 10000) years; beyond that the chrono arithmetic could overflow.
      if (seconds < 0 || seconds > 253402300799LL) {
        return malformed("fetched_at out of range");
      }
      out.fetched_at = SystemTime(std::chrono::seconds(seconds));
      have_time = true;
    } else if (name == "payload_size" && value.is_number_unsigned()) {
      if (value.get<std::uint64_t>() != payload.size()) {
        return malformed("payload is " + std::to_string(payload.size()) + " bytes, metadata says " +
                         std::to_string(value.get<std::uint64_t>()));
      }
      have_size = true;
    } else if (name == "payload_sha256" && value.is_string()) {
      if (value.get<std::string>() != sha256_hex(payload)) {
        return malformed("payload SHA-256 does not match");
      }
      have_digest = true;
    } else {
      return malformed("unexpected or mistyped metadata field \"" + name + "\"");
    }
  }
  if (!have_key || !have_time || !have_size || !have_digest) {
    return malformed("metadata needs a valid key, fetched_at, payload_size and payload_sha256");
  }
  out.payload = std::string(payload);
  return out;
}

Outcome<void> write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path directory = path.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    return Failure{make_error_code(Errc::CacheIoFailed),
                   "create " + directory.string() + ": " + ec.message()};
  }
  static std::atomic<unsigned long long> counter{0};
  const std::filesystem::path temporary =
      directory / ("." + path.filename().string() + "." + std::to_string(::getpid()) + "." +
                   std::to_string(counter.fetch_add(1)) + ".tmp");
  Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return io_failed(temporary, "create");
  }
  const auto discard = [&temporary] {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
  };
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      auto failure = io_failed(temporary, "write");
      discard();
      return failure;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    auto failure = io_failed(temporary, "fsync");
    discard();
    return failure;
  }
  if (::close(fd.release()) != 0) {
    auto failure = io_failed(temporary, "close");
    discard();
    return failure;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    auto failure = io_failed(path, "rename to");
    discard();
    return failure;
  }
  // Make the rename itself durable.
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) {
    (void)::fsync(dir.get());
  }
  return {};
}

Outcome<std::string> read_file_limited(const std::filesystem::path& path,
                                       std::uintmax_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Failure{make_error_code(Errc::CacheIoFailed), path.string() + ": " + ec.message()};
  }
  if (size > max_bytes) {
    return malformed(path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure{make_error_code(Errc::CacheIoFailed), "cannot open " + path.string()};
  }
  std::string content;
  content.reserve(static_cast<std::size_t>(size));
  content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (content.size() > max_bytes) {
    return malformed(path.string() + " grew beyond " + std::to_string(max_bytes) + " bytes");
  }
  return content;
}

Outcome<std::vector<std::filesystem::path>> list_cache_files(
    const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::exists(directory, ec)) {
    return out;
  }
  std::filesystem::directory_iterator it(directory, ec);
  if (ec) {
    return Failure{make_error_code(Errc::CacheIoFailed),
                   "list " + directory.string() + ": " + ec.message()};
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kCacheFileSuffix.size() && name.front() != '.' &&
        name.ends_with(kCacheFileSuffix) && entry.is_regular_file(ec)) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::filesystem::path cache_file_path(const std::filesystem::path& directory,
                                      std::string_view key) {
  return directory / (std::string(key) + std::string(kCacheFileSuffix));
}

std::filesystem::path default_cache_directory() {
  if (const char* explicit_dir = std::getenv("ATLS_COLLATERAL_CACHE_DIR");
      explicit_dir != nullptr && *explicit_dir != '\0') {
    return explicit_dir;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "atls-proxy" / "collateral";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::filesystem::path(home) / ".cache" / "atls-proxy" / "collateral";
  }
  return {};
}

}  // namespace atls::attest::collateral
