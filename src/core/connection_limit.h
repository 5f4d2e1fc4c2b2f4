#pragma once
// A cap on the connections one listener holds open at once (--max-connections). Accept loops
// take a Slot for every accepted socket and close the socket at once when none is left, so a
// connection flood costs the proxy a counter increment instead of file descriptors, TLS state
// and memory, and the connections already open keep being served (Envoy's
// max_connections_per_listener, nginx's worker_connections serve the same purpose).

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>

namespace atls {

class ConnectionLimit {
 public:
  /// One open connection; gives its place back when destroyed. Keep it alive exactly as long
  /// as the connection (e.g. as a parameter of the coroutine serving it).
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

   private:
    friend class ConnectionLimit;
    explicit Slot(ConnectionLimit* owner) noexcept : owner_(owner) {}
    void release() noexcept {
      if (owner_ != nullptr) {
        owner_->open_.fetch_sub(1, std::memory_order_acq_rel);
        owner_ = nullptr;
      }
    }
    ConnectionLimit* owner_;
  };

  /// @param on_refused called (on the accepting thread) for every refused connection, e.g. to
  /// count it; may be empty.
  explicit ConnectionLimit(std::size_t max, std::function<void()> on_refused = {})
      : max_(max), on_refused_(std::move(on_refused)) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  /// A slot, or nullopt when `max` connections are open (on_refused has then been called).
  /// @par Thread Safety
  /// Safe to call concurrently; slots may be released on any thread. The limit must outlive
  /// its slots.
  std::optional<Slot> try_acquire() {
    if (open_.fetch_add(1, std::memory_order_acq_rel) >= max_) {
      open_.fetch_sub(1, std::memory_order_acq_rel);
      if (on_refused_) {
        on_refused_();
      }
      return std::nullopt;
    }
    return Slot(this);
  }

  std::size_t open() const noexcept { return open_.load(std::memory_order_acquire); }
  std::size_t max() const noexcept { return max_; }

 private:
  const std::size_t max_;
  std::function<void()> on_refused_;
  std::atomic<std::size_t> open_{0};
};

}  // namespace atls
