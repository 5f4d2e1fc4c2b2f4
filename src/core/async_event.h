#pragma once
// A single-threaded wake-up signal for coroutines (an "auto-reset event"): wait() suspends until
// notify() is called; a notify() that happens before wait() is not lost. Used by producer and
// consumer coroutines that share one io_context (one thread), so no locking is involved.
//
// Built on a steady_timer that never expires: notify() cancels the wait. Asio 1.26 has no
// awaitable condition variable, and experimental channels carry values we do not need.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

namespace atls {

class AsyncEvent {
 public:
  explicit AsyncEvent(const boost::asio::any_io_executor& executor) : executor_(executor) {}

  /// Returns once notify() has been called since the last wait() returned.
  boost::asio::awaitable<void> wait() {
    while (!signaled_) {
      if (!timer_) {
        timer_.emplace(executor_, std::chrono::steady_clock::time_point::max());
      } else {
        timer_->expires_at(std::chrono::steady_clock::time_point::max());
      }
      co_await timer_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    signaled_ = false;
  }

  void notify() {
    signaled_ = true;
    if (timer_) {
      timer_->cancel();
    }
  }

 private:
  boost::asio::any_io_executor executor_;
  // Made on the first wait that has to suspend: most events of a request (a body pipe's
  // writable event, a finished request's readable event) are never waited on, and a timer
  // costs a timer-service registration to create and destroy.
  std::optional<boost::asio::steady_timer> timer_;
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
