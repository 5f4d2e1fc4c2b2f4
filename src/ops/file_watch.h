#pragma once
// Watches a set of files for changes with inotify (inotify(7)) and calls back once they have
// been quiet for a settle time, so that an editor's write-rename-chmod sequence or a
// certificate and its key replaced one after the other cause one reload, not several.
//
// Directories are watched, not the files: a file replaced by rename (editors, `mv`,
// configuration management, Kubernetes' atomic `..data` symlink swap) gets a new inode, which a
// watch on the old inode would never report. Events for names other than the watched files are
// ignored, apart from `..data` (the Kubernetes ConfigMap/Secret swap).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace atls::ops {

class FileWatch : public std::enable_shared_from_this<FileWatch> {
 public:
  /// Opens an inotify instance; `on_change` runs on `executor`. Errors are the system's
  /// (e.g. EMFILE when the per-user instance limit is reached).
  static Outcome<std::shared_ptr<FileWatch>> create(boost::asio::any_io_executor executor,
                                                    std::chrono::milliseconds settle,
                                                    std::function<void()> on_change);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  /// Watches exactly `files` from now on (call on the executor). A file need not exist, its
  /// directory must; the error names the directory that cannot be watched.
  Outcome<void> watch(const std::vector<std::filesystem::path>& files);

  /// Stops watching; no callback runs afterwards.
  void stop();

  /// The files currently watched (absolute, normalised).
  const std::set<std::filesystem::path>& files() const noexcept { return files_; }

 private:
  FileWatch(boost::asio::any_io_executor executor, int fd, std::chrono::milliseconds settle,
            std::function<void()> on_change);
  void read_events();
  void handle_events(std::size_t bytes);
  void note_change();

  boost::asio::posix::stream_descriptor descriptor_;
  boost::asio::steady_timer settle_timer_;
  std::chrono::milliseconds settle_;
  std::function<void()> on_change_;
  std::map<int, std::filesystem::path> directories_;  // watch descriptor -> directory
  std::set<std::filesystem::path> files_;
  // inotify_event records are read whole (inotify(7): a read returns complete events); 64 KiB
  // holds hundreds of them.
  std::vector<char> buffer_ = std::vector<char>(std::size_t{64} * 1024);
  bool reading_ = false;
  bool stopped_ = false;
};

}  // namespace atls::ops
