#pragma once
// A cap on the connections one listener holds open at once (--max-connections). Accept loops
// take a Slot for every accepted socket and close the socket at once when none is left, so a
// connection flood costs the proxy a counter increment instead of file descriptors, TLS state
// and memory, and the connections already open keep being served (Envoy's
// max_connections_per_listener, nginx's worker_connections serve the same purpose).

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace atls {

class ConnectionLimit {
  // The count lives apart from the limit so that a slot may outlive it: at shutdown the
  // io_context destroys pending connection coroutines (and their slots) after the listener
  // that owned the limit is gone.
  struct Count {
    std::atomic<std::size_t> open{0};
  };

 public:
  /// One open connection; gives its place back when destroyed. Keep it alive exactly as long
  /// as the connection (e.g. as a parameter of the coroutine serving it).
  class Slot {
   public:
    Slot(Slot&& other) noexcept = default;
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        count_ = std::move(other.count_);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

   private:
    friend class ConnectionLimit;
    explicit Slot(std::shared_ptr<Count> count) noexcept : count_(std::move(count)) {}
    void release() noexcept {
      if (count_) {
        count_->open.fetch_sub(1, std::memory_order_acq_rel);
        count_.reset();
      }
    }
    std::shared_ptr<Count> count_;
  };

  /// @param on_refused called (on the accepting thread) for every refused connection, e.g. to
  /// count it; may be empty.
  explicit ConnectionLimit(std::size_t max, std::function<void()> on_refused = {})
      : max_(max), on_refused_(std::move(on_refused)), count_(std::make_shared<Count>()) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  /// A slot, or nullopt when `max` connections are open (on_refused has then been called).
  /// @par Thread Safety
  /// Safe to call concurrently; slots may be released on any thread, also after the limit
  /// itself is destroyed.
  std::optional<Slot> try_acquire() {
    if (count_->open.fetch_add(1, std::memory_order_acq_rel) >= max_) {
      count_->open.fetch_sub(1, std::memory_order_acq_rel);
      if (on_refused_) {
        on_refused_();
      }
      return std::nullopt;
    }
    return Slot(count_);
  }

  std::size_t open() const noexcept { return count_->open.load(std::memory_order_acquire); }
  std::size_t max() const noexcept { return max_; }

 private:
  const std::size_t max_;
  std::function<void()> on_refused_;
  std::shared_ptr<Count> count_;
};

}  // namespace atls
