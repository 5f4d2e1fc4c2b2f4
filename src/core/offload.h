#pragma once
// Runs blocking work (evidence generation, verification) on a worker pool and awaits it from a
// coroutine with a deadline. The coroutine's executor must be single-threaded (one io_context
// per I/O thread, see docs/architecture.md): the result is handed back by a post to it.
//
// Asio 1.26 has no cancel_after, and `op || timer` would wait for the blocking work to finish
// before completing, so the deadline is a timer raced against a posted result.

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace atls {

/// Calls `work()` on `pool` and returns its result, or nullopt if `timeout` passes first (the
/// work then finishes in the background and its result is dropped).
template <class Work>
boost::asio::awaitable<std::optional<std::invoke_result_t<Work&>>> offload(
    boost::asio::any_io_executor pool, Work work, std::chrono::steady_clock::duration timeout) {
  using Value = std::invoke_result_t<Work&>;
  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    std::optional<Value> result;
  };
  auto executor = co_await boost::asio::this_coro::executor;
  auto state = std::make_shared<State>(executor);
  state->timer.expires_after(timeout);
  boost::asio::post(pool, [state, executor, work = std::move(work)]() mutable {
    Value value = work();
    boost::asio::post(executor, [state, value = std::move(value)]() mutable {
      state->result.emplace(std::move(value));
      state->timer.cancel();
    });
  });
  co_await state->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return std::move(state->result);
}

}  // namespace atls
