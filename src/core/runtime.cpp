#include "core/runtime.h"

namespace atls {

Runtime::Runtime(std::size_t io_threads, std::size_t attestation_threads)
    : attestation_pool_(attestation_threads == 0 ? 1 : attestation_threads) {
  if (io_threads == 0) {
    io_threads = std::max(1U, std::thread::hardware_concurrency());
  }
  for (std::size_t i = 0; i < io_threads; ++i) {
    // Concurrency hint 1: each io_context is driven by exactly one thread.
    ios_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*ios_.back()));
  }
}

Runtime::~Runtime() {
  stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  attestation_pool_.stop();
  attestation_pool_.join();
}

boost::asio::io_context& Runtime::next_io() noexcept {
  return *ios_[next_.fetch_add(1, std::memory_order_relaxed) % ios_.size()];
}

void Runtime::run() {
  for (std::size_t i = 1; i < ios_.size(); ++i) {
    threads_.emplace_back([io = ios_[i].get()] { io->run(); });
  }
  ios_.front()->run();
  for (auto& thread : threads_) {
    thread.join();
  }
  threads_.clear();
}

void Runtime::stop() {
  for (auto& guard : guards_) {
    guard.reset();
  }
  for (auto& io : ios_) {
    io->stop();
  }
}

}  // namespace atls
