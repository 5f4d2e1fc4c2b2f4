#pragma once
// A single-threaded wake-up signal for coroutines (an "auto-reset event"): wait() suspends until
// notify() is called; a notify() that happens before wait() is not lost. Used by producer and
// consumer coroutines that share one io_context (one thread), so no locking is involved.
//
// Asio 1.26 has no awaitable condition variable, and experimental channels carry values we do
// not need. A waiter's completion handler is kept as is (its type is the public
// async_result<use_awaitable_t<>, void()>::handler_type) and notify() posts it to the waiter's
// executor. This replaced a never-expiring steady_timer whose wait notify() cancelled: that cost
// a timer-queue insertion and removal plus a cancelled operation per wake-up, and an executor
// copy per event, on every proxied request (docs/benchmarks.md).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <vector>

namespace atls {

class AsyncEvent {
 public:
  AsyncEvent() = default;
  AsyncEvent(const AsyncEvent&) = delete;
  AsyncEvent& operator=(const AsyncEvent&) = delete;
  /// A waiter still suspended when the event is destroyed is never resumed: Asio destroys its
  /// coroutine frames through their executor (as for an io_context that stops).
  ~AsyncEvent() = default;

  /// Returns once notify() has been called since the last wait() returned. Not cancellable:
  /// waiters are woken by notify() only.
  boost::asio::awaitable<void> wait() {
    if (!signaled_) {
      co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
          [this](Waiter waiter) {
            if (!first_) {
              first_.emplace(std::move(waiter));
            } else {
              more_.push_back(std::move(waiter));
            }
          },
          boost::asio::use_awaitable);
    }
    signaled_ = false;
  }

  /// Wakes the waiters (through their executor, never inside this call: the caller may still
  /// be changing what they are about to read). Every waiter woken returns from wait().
  void notify() {
    signaled_ = true;
    if (first_) {
      Waiter waiter = std::move(*first_);
      first_.reset();
      boost::asio::post(std::move(waiter));
    }
    if (!more_.empty()) {
      auto waiters = std::move(more_);
      more_.clear();
      for (auto& waiter : waiters) {
        boost::asio::post(std::move(waiter));
      }
    }
  }

 private:
  using Waiter = boost::asio::async_result<boost::asio::use_awaitable_t<>, void()>::handler_type;
  // Nearly every event has at most one waiter; more are allowed but cost an allocation.
  std::optional<Waiter> first_;
  std::vector<Waiter> more_;
  bool signaled_ = false;
};

}  // namespace atls

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace atls {

/// A broadcast signal: every coroutine waiting when notify_all() is called wakes up. Waiters
/// compare a generation counter, so a notification is never lost between a check and a wait.
class AsyncBroadcast {
 public:
  explicit AsyncBroadcast(const boost::asio::any_io_executor& executor)
      : timer_(executor, std::chrono::steady_clock::time_point::max()) {}

  std::uint64_t generation() const noexcept { return generation_; }

  /// Returns after the next notify_all(), or false once `deadline` passes first.
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
    using namespace boost::asio::experimental::awaitable_operators;
    const std::uint64_t seen = generation_;
    boost::asio::steady_timer deadline_timer(timer_.get_executor(), deadline);
    while (seen == generation_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        co_return false;
      }
      // The shared timer never expires (its expiry is never touched after construction, so
      // one waiter cannot cancel another's wait); notify_all() cancels every wait on it.
      co_await (timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)) ||
                deadline_timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
    }
    co_return true;
  }

  void notify_all() {
    ++generation_;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
};

}  // namespace atls
