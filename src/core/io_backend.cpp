#include "core/io_backend.h"

#include <boost/asio/detail/config.hpp>
#include <cstring>

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#include <liburing.h>
#endif

namespace atls {

std::string_view io_backend_name() noexcept {
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
  return "io_uring";
#else
  return "epoll";
#endif
}

std::optional<std::string> io_backend_problem() {
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
  // The same call Asio makes for every io_context, with the same size (io_uring_service.hpp,
  // ring_size): kernels before 5.12 charge ring memory to RLIMIT_MEMLOCK, so a smaller probe
  // ring could pass where Asio's fails.
  constexpr unsigned kAsioRingEntries = 16384;
  io_uring ring{};
  const int result = io_uring_queue_init(kAsioRingEntries, &ring, 0);
  if (result < 0) {
    return std::string(
               "this build does its network I/O through io_uring, and the kernel "
               "refused to set up a ring (io_uring_setup: ") +
           std::strerror(-result) +
           "). Allow io_uring for this process (sysctl kernel.io_uring_disabled=0; a container "
           "runtime's seccomp profile may filter io_uring_setup), or use a build configured "
           "with -DATLS_IO_URING=OFF (epoll).";
  }
  io_uring_queue_exit(&ring);
#endif
  return std::nullopt;
}

}  // namespace atls
