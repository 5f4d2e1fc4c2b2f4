#include "core/file_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace atls {

Result<void> write_new_file(const std::filesystem::path& path, std::string_view content,
                            mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrorCode(errno, boost::system::system_category());
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const ErrorCode error(n < 0 ? errno : EIO, boost::system::system_category());
      ::close(fd);
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const ErrorCode error(errno, boost::system::system_category());
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return error;
  }
  return {};
}

}  // namespace atls
