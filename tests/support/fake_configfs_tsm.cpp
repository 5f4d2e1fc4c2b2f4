#include "support/fake_configfs_tsm.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace atls::testing {
namespace {

// Attributes the fake may have published in an entry (removed when the entry is released).
constexpr std::array kAttributes{"outblob",         "auxblob",  "inblob",    "privlevel",
                                 "privlevel_floor", "provider", "generation"};
// TSM_REPORT_INBLOB_MAX and TSM_REPORT_PRIVLEVEL_MAX (include/linux/tsm.h).
constexpr std::size_t kInblobMax = 64;
constexpr std::uint32_t kPrivlevelMax = 3;

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes text(const std::string& value) {
  return Bytes(value.begin(), value.end());
}

// kstrtouint(buf, 0, &val) as tsm_report_privlevel_store() uses it, restricted to decimal: an
// optional trailing newline, no sign.
std::optional<std::uint32_t> parse_privlevel(const Bytes& data) {
  std::string value(data.begin(), data.end());
  if (!value.empty() && value.back() == '\n') {
    value.pop_back();
  }
  if (value.empty() || value.size() > 9) {
    return std::nullopt;
  }
  std::uint32_t result = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    result = result * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return result;
}

}  // namespace

FakeConfigfsTsm::FakeConfigfsTsm(const std::filesystem::path& base, FakeTsmGenerator generator,
                                 FakeConfigfsTsmOptions options)
    : root_(base / "report"),
      staging_(base / ".fake-tsm-staging"),
      generator_(std::move(generator)),
      options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (!ec) {
    std::filesystem::create_directories(staging_, ec);
  }
  if (ec) {
    error_ = "cannot create " + root_.string() + ": " + ec.message();
    return;
  }
  inotify_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  stop_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (inotify_ < 0 || stop_ < 0) {
    error_ = std::string("inotify/eventfd: ") + std::strerror(errno);
    return;
  }
  root_watch_ =
      ::inotify_add_watch(inotify_, root_.c_str(),
                          IN_CREATE | IN_DELETE | IN_CLOSE_NOWRITE | IN_CLOSE_WRITE | IN_ONLYDIR);
  if (root_watch_ < 0) {
    error_ = std::string("inotify_add_watch: ") + std::strerror(errno);
    return;
  }
  thread_ = std::thread([this] { run(); });
}

FakeConfigfsTsm::~FakeConfigfsTsm() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(stop_, &one, sizeof(one));
    thread_.join();
  }
  if (inotify_ >= 0) {
    ::close(inotify_);
  }
  if (stop_ >= 0) {
    ::close(stop_);
  }
}

void FakeConfigfsTsm::inject_concurrent_writer(unsigned count) {
  std::lock_guard lock(mutex_);
  concurrent_writers_ += count;
}

std::vector<FakeTsmRequest> FakeConfigfsTsm::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::uint64_t FakeConfigfsTsm::entries_created() const {
  std::lock_guard lock(mutex_);
  return created_;
}

std::uint64_t FakeConfigfsTsm::entries_removed() const {
  std::lock_guard lock(mutex_);
  return removed_;
}

std::vector<std::string> FakeConfigfsTsm::live_entries() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) {
    names.push_back(name);
  }
  return names;
}

void FakeConfigfsTsm::run() {
  alignas(inotify_event) char buffer[64 * 1024];
  for (;;) {
    std::array<pollfd, 2> fds{{{inotify_, POLLIN, 0}, {stop_, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    const ssize_t length = ::read(inotify_, buffer, sizeof(buffer));
    if (length <= 0) {
      continue;
    }
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const std::string name = event->len > 0 ? std::string(event->name) : std::string();
      const bool is_dir = (event->mask & IN_ISDIR) != 0;
      if (event->wd == root_watch_) {
        if (!is_dir || name.empty()) {
          continue;
        }
        if ((event->mask & IN_CREATE) != 0) {
          on_entry_created(name);
        } else if ((event->mask & (IN_CLOSE_NOWRITE | IN_CLOSE_WRITE)) != 0) {
          on_entry_closed(name);
        } else if ((event->mask & IN_DELETE) != 0) {
          std::lock_guard lock(mutex_);
          if (entries_.erase(name) > 0) {
            ++removed_;
          }
        }
        continue;
      }
      if ((event->mask & IN_IGNORED) != 0) {
        std::lock_guard lock(mutex_);
        watches_.erase(event->wd);
        continue;
      }
      if ((event->mask & IN_CLOSE_WRITE) != 0 && !is_dir && !name.empty()) {
        on_attribute_written(event->wd, name);
      }
    }
  }
}

void FakeConfigfsTsm::on_entry_created(const std::string& name) {
  const auto path = root_ / name;
  {
    std::lock_guard lock(mutex_);
    entries_[name] = Entry{name, std::nullopt, 0, false};
    ++created_;
    const int watch = ::inotify_add_watch(inotify_, path.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR);
    if (watch < 0) {
      return;  // already removed again
    }
    watches_[watch] = name;
  }
  if (!options_.populate) {
    return;
  }
  // The attributes of tsm_report_extra_type (drivers/virt/coco/tsm.c); `generation` last.
  bool ok = publish(path, "provider", text(options_.provider + "\n"));
  if (options_.privlevel) {
    ok = ok &&
         publish(path, "privlevel_floor", text(std::to_string(options_.privlevel_floor) + "\n")) &&
         publish(path, "privlevel", {});
  }
  ok = ok && publish(path, "inblob", {});
  std::lock_guard lock(mutex_);
  auto found = entries_.find(name);
  if (ok && found != entries_.end()) {
    publish_generation(found->second);
    found->second.populated = true;
  }
}

void FakeConfigfsTsm::on_entry_closed(const std::string& name) {
  const auto path = root_ / name;
  {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(name);
    if (found == entries_.end()) {
      return;
    }
    found->second.populated = false;
  }
  for (const char* attribute : kAttributes) {
    const auto file = path / attribute;
    if (::unlink(file.c_str()) != 0 && errno == EISDIR) {
      ::rmdir(file.c_str());
    }
  }
}

void FakeConfigfsTsm::on_attribute_written(int watch, const std::string& attribute) {
  FakeTsmRequest request;
  {
    std::lock_guard lock(mutex_);
    const auto named = watches_.find(watch);
    if (named == watches_.end()) {
      return;
    }
    auto found = entries_.find(named->second);
    if (found == entries_.end() || !found->second.populated) {
      return;
    }
    Entry& entry = found->second;
    const Bytes data = read_file(root_ / entry.name / attribute);
    if (attribute == "privlevel" && options_.privlevel) {
      // tsm_report_privlevel_store(): floor <= level <= TSM_REPORT_PRIVLEVEL_MAX, else EINVAL
      // (which the fake can only model by ignoring the write).
      const auto level = parse_privlevel(data);
      if (!level || *level < options_.privlevel_floor || *level > kPrivlevelMax) {
        return;
      }
      entry.privlevel = *level;
      ++entry.generation;
      publish_generation(entry);
      return;
    }
    if (attribute != "inblob" || data.size() > kInblobMax) {
      return;
    }
    ++entry.generation;
    request = FakeTsmRequest{entry.name, data, entry.privlevel, entry.generation};
    if (concurrent_writers_ > 0) {
      // Another process wrote the same entry before this one's outblob read: the report is
      // produced for its inblob (tsm_report_read() regenerates for the latest write).
      --concurrent_writers_;
      ++entry.generation;
      request.inblob = Bytes(kInblobMax, 0xEE);
      request.generation = entry.generation;
    }
    publish_generation(entry);
    requests_.push_back(request);
  }
  const FakeTsmResponse response = generator_(request);
  const auto path = root_ / request.entry;
  if (options_.auxblob) {
    publish(path, "auxblob", response.auxblob);
  }
  if (response.read_error) {
    publish_directory(path, "outblob");
  } else {
    publish(path, "outblob", response.outblob);
  }
}

bool FakeConfigfsTsm::publish(const std::filesystem::path& entry, const std::string& attribute,
                              const Bytes& content) {
  const auto staged = staging_ / ("f" + std::to_string(staging_counter_++));
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
    if (!out) {
      return false;
    }
  }
  const auto target = entry / attribute;
  if (::rename(staged.c_str(), target.c_str()) != 0) {
    if (errno == EISDIR) {
      ::rmdir(target.c_str());
      if (::rename(staged.c_str(), target.c_str()) == 0) {
        return true;
      }
    }
    ::unlink(staged.c_str());
    return false;
  }
  return true;
}

bool FakeConfigfsTsm::publish_directory(const std::filesystem::path& entry,
                                        const std::string& attribute) {
  const auto staged = staging_ / ("d" + std::to_string(staging_counter_++));
  if (::mkdir(staged.c_str(), 0700) != 0) {
    return false;
  }
  const auto target = entry / attribute;
  ::unlink(target.c_str());
  if (::rename(staged.c_str(), target.c_str()) != 0) {
    ::rmdir(staged.c_str());
    return false;
  }
  return true;
}

void FakeConfigfsTsm::publish_generation(const Entry& entry) {
  publish(root_ / entry.name, "generation", text(std::to_string(entry.generation) + "\n"));
}

}  // namespace atls::testing
