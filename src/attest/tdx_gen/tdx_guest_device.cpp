#include "attest/tdx_gen/tdx_guest_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace atls::attest::tdx_gen {

LinuxTdxGuestDevice::LinuxTdxGuestDevice(std::filesystem::path path) : path_(std::move(path)) {}

LinuxTdxGuestDevice::~LinuxTdxGuestDevice() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int LinuxTdxGuestDevice::open() const {
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

int LinuxTdxGuestDevice::call(unsigned long request, void* argument) const {
  if (const int error = open(); error != 0) {
    return error;
  }
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    fd = fd_;
  }
  for (;;) {
    if (::ioctl(fd, request, argument) == 0) {
      return 0;
    }
    if (errno != EINTR) {
      return errno;
    }
  }
}

int LinuxTdxGuestDevice::get_report0(const ReportData& report_data, TdReport& report) const {
  TdxReportRequest request{};
  std::memcpy(request.reportdata, report_data.data(), report_data.size());
  if (const int error = call(kTdxCmdGetReport0, &request); error != 0) {
    return error;
  }
  std::memcpy(report.data(), request.tdreport, report.size());
  return 0;
}

int LinuxTdxGuestDevice::get_quote(std::span<std::uint8_t> buffer) const {
  // The kernel copies the whole buffer in, runs GetQuote on a shared copy, and copies it back.
  TdxQuoteRequest request{reinterpret_cast<std::uint64_t>(buffer.data()), buffer.size()};
  return call(kTdxCmdGetQuote, &request);
}

}  // namespace atls::attest::tdx_gen
