#include "ops/file_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace atls::ops {
namespace {

// inotify(7): close-after-write (edit in place), moved-in (atomic replace), created (a new
// file, or a symlink swapped in). Deletions alone are not changes worth a reload: the reload
// would fail on the missing file, and the replacement's own event follows.
constexpr std::uint32_t kDirectoryEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;

// Kubernetes mounts ConfigMaps and Secrets as symlinks through `..data`, swapped atomically.
constexpr std::string_view kKubernetesDataLink = "..data";

std::filesystem::path normalised(const std::filesystem::path& file) {
  std::error_code ec;  // absolute() fails only when the working directory is gone
  auto path = std::filesystem::absolute(file, ec);
  return (ec ? file : path).lexically_normal();
}

}  // namespace

Outcome<std::shared_ptr<FileWatch>> FileWatch::create(boost::asio::any_io_executor executor,
                                                      std::chrono::milliseconds settle,
                                                      std::function<void()> on_change) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return Failure{ErrorCode(errno, boost::system::system_category()), "inotify_init1"};
  }
  return std::shared_ptr<FileWatch>(
      new FileWatch(std::move(executor), fd, settle, std::move(on_change)));
}

FileWatch::FileWatch(boost::asio::any_io_executor executor, int fd,
                     std::chrono::milliseconds settle, std::function<void()> on_change)
    : descriptor_(executor, fd),
      settle_timer_(executor),
      settle_(settle),
      on_change_(std::move(on_change)) {}

FileWatch::~FileWatch() = default;

Outcome<void> FileWatch::watch(const std::vector<std::filesystem::path>& files) {
  std::set<std::filesystem::path> wanted_files;
  std::set<std::filesystem::path> wanted_directories;
  for (const auto& file : files) {
    auto path = normalised(file);
    wanted_directories.insert(path.parent_path());
    wanted_files.insert(std::move(path));
  }
  // Add the new directories first, so that a failure leaves the previous set intact.
  std::map<int, std::filesystem::path> added;
  for (const auto& directory : wanted_directories) {
    const int wd = ::inotify_add_watch(descriptor_.native_handle(), directory.c_str(),
                                       kDirectoryEvents | IN_ONLYDIR);
    if (wd < 0) {
      const int error = errno;
      for (const auto& [descriptor, _] : added) {
        if (!directories_.contains(descriptor)) {
          ::inotify_rm_watch(descriptor_.native_handle(), descriptor);
        }
      }
      return Failure{ErrorCode(error, boost::system::system_category()),
                     "cannot watch directory " + directory.string()};
    }
    // inotify returns the same descriptor for a directory already watched.
    added.emplace(wd, directory);
  }
  for (const auto& [descriptor, _] : directories_) {
    if (!added.contains(descriptor)) {
      ::inotify_rm_watch(descriptor_.native_handle(), descriptor);
    }
  }
  directories_ = std::move(added);
  files_ = std::move(wanted_files);
  if (!reading_ && !stopped_) {
    reading_ = true;
    read_events();
  }
  return {};
}

void FileWatch::stop() {
  stopped_ = true;
  settle_timer_.cancel();
  boost::system::error_code ignored;
  descriptor_.close(ignored);
}

void FileWatch::read_events() {
  descriptor_.async_read_some(
      boost::asio::buffer(buffer_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t bytes) {
        if (ec || self->stopped_) {
          return;  // closed (stop) or broken: no further callbacks
        }
        self->handle_events(bytes);
        self->read_events();
      });
}

void FileWatch::handle_events(std::size_t bytes) {
  std::size_t offset = 0;
  bool relevant = false;
  while (offset + sizeof(inotify_event) <= bytes) {
    inotify_event header{};
    std::memcpy(&header, buffer_.data() + offset, sizeof(header));
    const std::size_t record = sizeof(inotify_event) + header.len;
    if (offset + record > bytes) {
      break;  // inotify(7) never splits a record; stop rather than read past the data
    }
    if ((header.mask & IN_Q_OVERFLOW) != 0) {
      relevant = true;  // events were lost: assume one of ours was among them
    } else if (const auto directory = directories_.find(header.wd);
               directory != directories_.end() && header.len > 0) {
      // The name is NUL-padded to `len` bytes.
      const char* name = buffer_.data() + offset + sizeof(inotify_event);
      const std::string_view entry(name, strnlen(name, header.len));
      relevant = relevant || entry == kKubernetesDataLink ||
                 files_.contains(directory->second / std::string(entry));
    }
    offset += record;
  }
  if (relevant) {
    note_change();
  }
}

void FileWatch::note_change() {
  // Each change restarts the settle time; the callback runs once things are quiet.
  settle_timer_.expires_after(settle_);
  settle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->stopped_ && self->on_change_) {
      self->on_change_();
    }
  });
}

}  // namespace atls::ops
