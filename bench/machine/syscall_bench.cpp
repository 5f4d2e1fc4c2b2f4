// What the machine charges for a system call, and whether the TLB refill after one matters.
// These two numbers decide how a proxy should talk to the kernel (docs/benchmarks.md "Where the
// time goes: system calls"): on the 2-vCPU benchmark VM a trivial system call costs over a
// microsecond, about half of it accounted as user time, while touching a page again after the
// call costs about a nanosecond more than without it.
//
// Counters per iteration: user_ns and sys_ns from getrusage(RUSAGE_THREAD), so that the split
// between user and system time that /proc reports for a proxy process can be read against them.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace {

double thread_seconds(bool user) {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  const timeval& tv = user ? usage.ru_utime : usage.ru_stime;
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

// Adds user_ns/sys_ns per iteration over the whole run of `state`.
class RusageCounters {
 public:
  explicit RusageCounters(benchmark::State& state)
      : state_(state), user_(thread_seconds(true)), sys_(thread_seconds(false)) {}
  ~RusageCounters() {
    const auto iterations = static_cast<double>(state_.iterations());
    if (iterations > 0) {
      state_.counters["user_ns"] = (thread_seconds(true) - user_) * 1e9 / iterations;
      state_.counters["sys_ns"] = (thread_seconds(false) - sys_) * 1e9 / iterations;
    }
  }
  RusageCounters(const RusageCounters&) = delete;
  RusageCounters& operator=(const RusageCounters&) = delete;

 private:
  benchmark::State& state_;
  double user_;
  double sys_;
};

// The cheapest system call there is: no arguments, no locks.
void BM_Getppid(benchmark::State& state) {
  const RusageCounters counters(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(syscall(SYS_getppid));
  }
}
BENCHMARK(BM_Getppid);

// Reads one byte on each of `pages` distinct 4 KiB pages per iteration, with (range(1) = 1) or
// without a system call before the reads. The difference between the two, minus BM_Getppid,
// is what re-finding those pages costs after the kernel ran (the TLB refill that page-table
// isolation without PCID forces on every system call).
void BM_TouchPages(benchmark::State& state) {
  const auto pages = static_cast<std::size_t>(state.range(0));
  const bool with_syscall = state.range(1) != 0;
  constexpr std::size_t kPage = 4096;
  const std::size_t size = (pages + 1) * kPage;
  void* mapping = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  auto* bytes = static_cast<volatile std::uint8_t*>(mapping);
  for (std::size_t i = 0; i < size; i += 64) {
    bytes[i] = 1;
  }
  std::size_t line = 0;
  {
    const RusageCounters counters(state);
    for (auto _ : state) {
      if (with_syscall) {
        benchmark::DoNotOptimize(syscall(SYS_getppid));
      }
      std::uint64_t sum = 0;
      for (std::size_t page = 0; page < pages; ++page) {
        sum += bytes[page * kPage + line * 64];
      }
      line = (line + 1) % 64;  // a different cache line each time: the page, not the line, repeats
      benchmark::DoNotOptimize(sum);
    }
  }
  munmap(mapping, size);
}
BENCHMARK(BM_TouchPages)->ArgsProduct({{16, 64, 256}, {0, 1}});

}  // namespace
