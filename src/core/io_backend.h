#pragma once
// The kernel interface that carries this build's network I/O, and a start-up check that the
// kernel lets the process use it.
//
// Asio picks its I/O backend at compile time (CMake option ATLS_IO_URING). io_uring can be
// refused at run time: `sysctl kernel.io_uring_disabled` (1 = unprivileged processes only,
// 2 = everyone), or a seccomp profile that filters io_uring_setup (common in container runtimes).
// Asio would then throw from the first socket it creates, deep inside a command; the check turns
// that into one clear message at start-up instead.

#include <optional>
#include <string>
#include <string_view>

namespace atls {

/// "io_uring" or "epoll".
std::string_view io_backend_name() noexcept;

/// Empty when the I/O backend is usable; otherwise what is wrong and how to fix it.
std::optional<std::string> io_backend_problem();

}  // namespace atls
