#pragma once
// Threads of the process: one io_context per I/O thread (a connection lives on exactly one, so
// its coroutine state needs no locking), plus a pool for blocking attestation work.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace atls {

class Runtime {
 public:
  /// `io_threads` = 0 means one per hardware thread.
  explicit Runtime(std::size_t io_threads = 0, std::size_t attestation_threads = 2);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The io_context for the next connection (round-robin).
  boost::asio::io_context& next_io() noexcept;
  /// The first io_context; listeners and signal handling live here.
  boost::asio::io_context& main_io() noexcept { return *ios_.front(); }
  boost::asio::any_io_executor attestation_executor() { return attestation_pool_.get_executor(); }
  std::size_t io_thread_count() const noexcept { return ios_.size(); }
  /// The io_context of I/O thread `index` (< io_thread_count()).
  boost::asio::io_context& io(std::size_t index) noexcept { return *ios_[index]; }

  /// Runs every io_context (the calling thread runs main_io()) until stop().
  void run();
  /// Stops all io_contexts; pending handlers are abandoned.
  void stop();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  boost::asio::thread_pool attestation_pool_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace atls
