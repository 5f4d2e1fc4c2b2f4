#include "attest/snp/sev_guest_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace atls::attest::snp {

LinuxSevGuestDevice::LinuxSevGuestDevice(std::filesystem::path path) : path_(std::move(path)) {}

LinuxSevGuestDevice::~LinuxSevGuestDevice() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int LinuxSevGuestDevice::open() const {
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) {
    return 0;
  }
  const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  fd_ = fd;
  return 0;
}

int LinuxSevGuestDevice::guest_request(unsigned long request, snp_guest_request_ioctl& arg) const {
  if (const int error = open(); error != 0) {
    return error;
  }
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    fd = fd_;
  }
  for (;;) {
    if (::ioctl(fd, request, &arg) == 0) {
      return 0;
    }
    if (errno != EINTR) {
      return errno;
    }
  }
}

}  // namespace atls::attest::snp
