#include "attest/tsm/tsm_client.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <random>
#include <semaphore>
#include <system_error>
#include <thread>
#include <utility>

#include "attest/tsm/errors.h"

namespace atls::attest::tsm {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The semaphore's compile-time maximum; options.max_concurrency is clamped to it.
constexpr std::ptrdiff_t kMaxConcurrency = 64;
// Name collisions (EEXIST) are retried with a fresh random suffix this many times.
constexpr int kMaxNameAttempts = 4;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  /// Closes and returns 0 or the errno of close(). configfs hands a binary attribute's buffer
  /// to the provider on release and ignores the result (fs/configfs/file.c), so a rejected
  /// inblob write does not show here: it shows as a generation that did not advance.
  int close_checked() noexcept {
    const int fd = std::exchange(fd_, -1);
    if (fd < 0) {
      return 0;
    }
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

Failure fail(Errc code, std::string detail) {
  return Failure{make_error_code(code), std::move(detail)};
}

void pause(std::chrono::milliseconds& delay) {
  std::this_thread::sleep_for(delay);
  delay = std::min(delay * 2, std::chrono::milliseconds(20));
}

// Opens attribute `name` of the entry. Waits until `deadline` while it does not exist yet: a
// real configfs creates all attributes with the entry, the test fake shortly after.
// @return the descriptor, or the errno.
std::pair<Fd, int> open_attribute(int dir, const char* name, int flags,
                                  SteadyClock::time_point deadline) {
  std::chrono::milliseconds delay(1);
  for (;;) {
    const int fd = ::openat(dir, name, flags | O_CLOEXEC);
    if (fd >= 0) {
      return {Fd(fd), 0};
    }
    const int error = errno;
    if (error == EINTR) {
      continue;
    }
    if (error != ENOENT || SteadyClock::now() >= deadline) {
      return {Fd(), error};
    }
    pause(delay);
  }
}

// Reads until end of file. configfs binary attributes produce the whole blob on the first read
// and serve it from a per-open buffer afterwards. @return 0, E2BIG beyond `max`, or the errno.
int read_all(int fd, std::size_t max, Bytes& out) {
  out.clear();
  std::uint8_t chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      return 0;
    }
    if (out.size() + static_cast<std::size_t>(n) > max) {
      return E2BIG;
    }
    out.insert(out.end(), chunk, chunk + n);
  }
}

// One write of all of `data`, then close (see Fd::close_checked).
int write_all_and_close(Fd fd, ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      return EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  return fd.close_checked();
}

Failure attribute_failure(const char* name, int error) {
  if (error == ENOENT) {
    return fail(Errc::AttributeMissing, std::string(name) + " did not appear");
  }
  if (error == EACCES || error == EPERM) {
    return fail(Errc::PermissionDenied, std::string(name) + ": " + errno_text(error));
  }
  return fail(Errc::AttributeReadFailed, std::string(name) + ": " + errno_text(error));
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t value = random();
  const std::string suffix =
      to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(&value), sizeof(value)));
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + suffix;
}

}  // namespace

std::optional<std::uint64_t> parse_decimal_attribute(std::string_view text) noexcept {
  if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

struct TsmClient::State {
  explicit State(TsmClientOptions o)
      : options(std::move(o)),
        slots(std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(options.max_concurrency), 1,
                                         kMaxConcurrency)) {}

  TsmClientOptions options;
  mutable std::counting_semaphore<kMaxConcurrency> slots;
  mutable std::mutex stats_mutex;
  mutable TsmStats stats;

  // A report entry: the directory and a descriptor for it. Attributes are opened relative to
  // the descriptor, so a path swapped underneath cannot redirect them. Destruction closes the
  // descriptor and removes the directory — on every path out of a request.
  class Entry {
   public:
    Entry(const State& state, std::string path, Fd dir)
        : state_(&state), path_(std::move(path)), dir_(std::move(dir)) {}
    Entry(Entry&& other) noexcept
        : state_(other.state_), path_(std::move(other.path_)), dir_(std::move(other.dir_)) {
      other.path_.clear();
    }
    Entry& operator=(Entry&&) = delete;
    ~Entry() { remove(); }

    int dir() const noexcept { return dir_.get(); }

   private:
    void remove() noexcept {
      if (path_.empty()) {
        return;
      }
      dir_.reset();
      // configfs removes an item with its attributes on rmdir at once. The test fake tears the
      // attributes down when it sees the directory descriptor closed, so a short bounded retry
      // on ENOTEMPTY covers it.
      const auto deadline = SteadyClock::now() + state_->options.attribute_wait;
      std::chrono::milliseconds delay(1);
      for (;;) {
        if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) {
          return;
        }
        const int error = errno;
        if (error == EINTR) {
          continue;
        }
        if ((error == ENOTEMPTY || error == EBUSY) && SteadyClock::now() < deadline) {
          pause(delay);
          continue;
        }
        spdlog::warn("configfs-tsm: could not remove report entry {}: {}", path_,
                     errno_text(error));
        std::lock_guard lock(state_->stats_mutex);
        ++state_->stats.leaked_entries;
        return;
      }
    }

    const State* state_;
    std::string path_;
    Fd dir_;
  };

  Outcome<Entry> create_entry() const {
    struct stat info {};
    if (::stat(options.root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      return fail(Errc::Unavailable, options.root.string());
    }
    for (int attempt = 0;; ++attempt) {
      std::string path = (options.root / unique_name(options.entry_prefix)).string();
      if (::mkdir(path.c_str(), 0700) != 0) {
        const int error = errno;
        if ((error == EEXIST || error == EINTR) && attempt + 1 < kMaxNameAttempts) {
          continue;
        }
        switch (error) {
          case ENXIO: return fail(Errc::NoProvider, options.root.string());
          case ENOENT:
          case ENOTDIR: return fail(Errc::Unavailable, options.root.string());
          case EACCES:
          case EPERM:
          case EROFS: return fail(Errc::PermissionDenied, path + ": " + errno_text(error));
          default: return fail(Errc::EntryCreateFailed, path + ": " + errno_text(error));
        }
      }
      const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        const int error = errno;
        ::rmdir(path.c_str());
        return fail(Errc::EntryCreateFailed, path + ": " + errno_text(error));
      }
      return Entry(*this, std::move(path), Fd(fd));
    }
  }

  // Reads a small text attribute (up to 64 bytes) of `entry`.
  static Outcome<std::string> read_text(const Entry& entry, const char* name,
                                        SteadyClock::time_point deadline) {
    auto [fd, error] = open_attribute(entry.dir(), name, O_RDONLY, deadline);
    if (!fd) {
      return attribute_failure(name, error);
    }
    Bytes data;
    if (const int read_error = read_all(fd.get(), 64, data); read_error != 0) {
      return attribute_failure(name, read_error);
    }
    return std::string(data.begin(), data.end());
  }

  static Outcome<std::uint64_t> read_number(const Entry& entry, const char* name,
                                            SteadyClock::time_point deadline) {
    auto text = read_text(entry, name, deadline);
    if (!text) {
      return text.error();
    }
    const auto value = parse_decimal_attribute(*text);
    if (!value) {
      return fail(Errc::AttributeMalformed, std::string(name));
    }
    return *value;
  }

  static std::string trim_newline(std::string text) {
    if (!text.empty() && text.back() == '\n') {
      text.pop_back();
    }
    return text;
  }

  Outcome<std::string> read_provider(const Entry& entry, SteadyClock::time_point deadline) const {
    // `generation` is every provider's attribute; the fake publishes it last, so once it is
    // there the entry is complete. On a real configfs this returns at once.
    auto [sentinel, error] = open_attribute(entry.dir(), "generation", O_RDONLY, deadline);
    if (!sentinel) {
      return attribute_failure("generation", error);
    }
    auto provider = read_text(entry, "provider", deadline);
    if (!provider) {
      return provider.error();
    }
    return trim_newline(std::move(*provider));
  }

  // Reads a blob attribute. @return nullopt when it does not exist (only if !required).
  Outcome<std::optional<Bytes>> read_blob(const Entry& entry, const char* name, bool required,
                                          Errc read_failed, Errc too_large) const {
    const auto deadline =
        required ? SteadyClock::now() + options.attribute_wait : SteadyClock::now();
    auto [fd, error] = open_attribute(entry.dir(), name, O_RDONLY, deadline);
    if (!fd) {
      if (error == ENOENT && !required) {
        return std::optional<Bytes>();
      }
      if (error == ENOENT) {
        return attribute_failure(name, error);
      }
      return fail(read_failed, errno_text(error));
    }
    Bytes data;
    if (const int read_error = read_all(fd.get(), options.max_blob_size, data); read_error != 0) {
      if (read_error == E2BIG) {
        return fail(too_large, std::to_string(options.max_blob_size) + " bytes max");
      }
      // The provider's report generation failed (e.g. EIO when the TDX quoting service is
      // unreachable, EINVAL for a rejected privlevel); the errno is the operator's only clue.
      return fail(read_failed, errno_text(read_error));
    }
    return std::optional<Bytes>(std::move(data));
  }

  struct Attempt {
    TsmReport report;
    bool raced = false;
    std::uint64_t expected_generation = 0;
  };

  Outcome<Attempt> attempt(const TsmRequest& request) const {
    auto entry = create_entry();
    if (!entry) {
      return entry.error();
    }
    const auto deadline = SteadyClock::now() + options.attribute_wait;
    auto provider = read_provider(*entry, deadline);
    if (!provider) {
      return provider.error();
    }
    if (!options.expected_provider.empty() && *provider != options.expected_provider) {
      return fail(Errc::ProviderMismatch, "provider is \"" + *provider + "\", expected \"" +
                                              options.expected_provider + "\"");
    }
    auto before = read_number(*entry, "generation", deadline);
    if (!before) {
      return before.error();
    }
    std::uint64_t writes = 0;
    if (request.privlevel) {
      // The kernel rejects a level below privlevel_floor with EINVAL on write; checking first
      // gives the operator the floor in the message.
      struct stat info {};
      if (::fstatat(entry->dir(), "privlevel_floor", &info, 0) == 0) {
        auto floor = read_number(*entry, "privlevel_floor", deadline);
        if (!floor) {
          return floor.error();
        }
        if (*request.privlevel < *floor) {
          return fail(Errc::PrivlevelBelowFloor, "privlevel " + std::to_string(*request.privlevel) +
                                                     " < floor " + std::to_string(*floor));
        }
      }
      auto [fd, error] = open_attribute(entry->dir(), "privlevel", O_WRONLY, SteadyClock::now());
      if (!fd) {
        if (error == ENOENT) {
          return fail(Errc::PrivlevelUnsupported, *provider);
        }
        return fail(Errc::PrivlevelWriteFailed, errno_text(error));
      }
      const std::string text = std::to_string(*request.privlevel) + "\n";
      if (const int write_error = write_all_and_close(std::move(fd), as_bytes(text));
          write_error != 0) {
        return fail(Errc::PrivlevelWriteFailed, errno_text(write_error));
      }
      ++writes;
    }
    {
      auto [fd, error] = open_attribute(entry->dir(), "inblob", O_WRONLY, deadline);
      if (!fd) {
        if (error == ENOENT) {
          return attribute_failure("inblob", error);
        }
        return fail(Errc::InblobWriteFailed, errno_text(error));
      }
      if (const int write_error = write_all_and_close(std::move(fd), request.inblob);
          write_error != 0) {
        return fail(Errc::InblobWriteFailed, errno_text(write_error));
      }
      ++writes;
    }
    auto outblob =
        read_blob(*entry, "outblob", true, Errc::OutblobReadFailed, Errc::OutblobTooLarge);
    if (!outblob) {
      return outblob.error();
    }
    auto auxblob =
        read_blob(*entry, "auxblob", false, Errc::AuxblobReadFailed, Errc::AuxblobTooLarge);
    if (!auxblob) {
      return auxblob.error();
    }
    auto after = read_number(*entry, "generation", SteadyClock::now());
    if (!after) {
      return after.error();
    }
    Attempt result;
    result.expected_generation = *before + writes;
    if (*after < result.expected_generation) {
      // A concurrent writer only adds to the generation: fewer increments than our writes
      // means the kernel dropped one (e.g. EBUSY from try_advance_write_generation(), which
      // configfs cannot report for a binary attribute).
      return fail(Errc::InblobWriteFailed, "generation " + std::to_string(*after) + " after " +
                                               std::to_string(writes) + " writes from " +
                                               std::to_string(*before));
    }
    result.raced = *after != result.expected_generation;
    result.report.provider = std::move(*provider);
    result.report.outblob = std::move(**outblob);
    result.report.auxblob = std::move(*auxblob);
    result.report.generation = *after;
    return result;
  }
};

TsmClient::TsmClient(TsmClientOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

TsmClient::~TsmClient() = default;

const TsmClientOptions& TsmClient::options() const noexcept {
  return state_->options;
}

TsmStats TsmClient::stats() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->stats;
}

bool TsmClient::root_present() const {
  struct stat info {};
  return ::stat(state_->options.root.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

Outcome<TsmReport> TsmClient::generate(const TsmRequest& request) const {
  if (request.inblob.size() != kInblobSize) {
    return fail(Errc::InvalidInblobSize, std::to_string(request.inblob.size()) + " bytes");
  }
  if (request.privlevel && *request.privlevel > kMaxPrivlevel) {
    return fail(Errc::PrivlevelOutOfRange, std::to_string(*request.privlevel));
  }
  if (!root_present()) {
    return fail(Errc::Unavailable, state_->options.root.string());
  }
  if (!state_->slots.try_acquire_for(state_->options.slot_wait)) {
    return fail(Errc::Busy, std::to_string(state_->options.max_concurrency) + " in flight");
  }
  struct Release {
    std::counting_semaphore<kMaxConcurrency>& slots;
    ~Release() { slots.release(); }
  } release{state_->slots};
  {
    std::lock_guard lock(state_->stats_mutex);
    ++state_->stats.requests;
  }
  const unsigned attempts = std::max(1U, state_->options.max_attempts);
  std::string last_race;
  for (unsigned i = 1; i <= attempts; ++i) {
    auto result = state_->attempt(request);
    if (!result) {
      return result.error();
    }
    if (result->raced) {
      std::lock_guard lock(state_->stats_mutex);
      ++state_->stats.generation_races;
      last_race = "generation " + std::to_string(result->report.generation) + ", expected " +
                  std::to_string(result->expected_generation);
      continue;
    }
    // Checked only for an attempt that was not raced: a racing writer's report is discarded
    // whatever it contains.
    if (result->report.outblob.empty()) {
      return fail(Errc::OutblobEmpty, result->report.provider);
    }
    result->report.attempts = i;
    return std::move(result->report);
  }
  return fail(Errc::GenerationRace, last_race + " after " + std::to_string(attempts) + " attempts");
}

Outcome<std::string> TsmClient::read_provider() const {
  if (!root_present()) {
    return fail(Errc::Unavailable, state_->options.root.string());
  }
  auto entry = state_->create_entry();
  if (!entry) {
    return entry.error();
  }
  return state_->read_provider(*entry, SteadyClock::now() + state_->options.attribute_wait);
}

}  // namespace atls::attest::tsm
