# Every dependency is a Debian 12 package (scripts/install-deps.sh); nothing is fetched.
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG)
find_package(OpenSSL 3.0 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
# jemalloc for the atls-proxy executable (Debian: libjemalloc-dev), as Debian's nghttpx uses.
# A proxied request allocates many small and medium blocks (coroutine frames over 1 KiB, header
# strings, body chunks) on one thread and frees them on the same thread; glibc malloc spends a
# measurable share of the request in bin management for the medium sizes (docs/benchmarks.md).
# Not with sanitizers or libFuzzer, which bring their own allocator.
if(ATLS_JEMALLOC AND NOT ATLS_SANITIZE AND NOT ATLS_BUILD_FUZZ)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()
if(ATLS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(ATLS_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# One interface target that carries the Asio/Beast configuration. Asio and Beast are compiled
# once (src/core/asio_impl.cpp) instead of in every translation unit.
add_library(atls_asio INTERFACE)
target_link_libraries(atls_asio INTERFACE Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
# (Not BOOST_BEAST_USE_STD_STRING_VIEW: Boost 1.81 ignores it — beast::string_view is always
# boost::core::string_view, which converts to std::string_view — and prints a deprecation
# message in every translation unit.)
target_compile_definitions(atls_asio INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)
# io_uring as Asio's I/O backend (Debian: liburing-dev). Asio's epoll reactor costs a system call
# per operation, and one more for every read that finds no data yet (its speculative read);
# with io_uring the operations of one event-loop pass go to the kernel in one io_uring_enter.
# On a VM where a system call costs over a microsecond this is the largest single saving per
# proxied request (docs/benchmarks.md "io_uring"). The choice is compile-time in Asio, so every
# translation unit must see the same definitions: they live on this interface target.
# The kernel may refuse io_uring (sysctl kernel.io_uring_disabled, container seccomp profiles):
# the binary then says so at start-up (core/io_backend.h); build with -DATLS_IO_URING=OFF there.
if(ATLS_IO_URING)
  pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
  target_compile_definitions(atls_asio INTERFACE BOOST_ASIO_HAS_IO_URING BOOST_ASIO_DISABLE_EPOLL)
  target_link_libraries(atls_asio INTERFACE PkgConfig::LIBURING)
endif()
