#pragma once
// Runs blocking work (evidence generation, verification) on a worker pool and awaits it from a
// coroutine with a deadline. The coroutine's executor must be single-threaded (one io_context
// per I/O thread, see docs/architecture.md): the result is handed back by a post to it.
//
// Asio 1.26 has no cancel_after, and `op || timer` would wait for the blocking work to finish
// before completing, so the deadline is a timer raced against a posted result.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

namespace atls {

/// Calls `work()` on `pool` and returns its result, or nullopt if `timeout` passes first (the
/// work then finishes in the background and its result is dropped).
///
/// GCC 12 destroys prvalue arguments of a coroutine call inside `co_await` twice (a lambda
/// temporary with captures is enough): always pass a named `work` object with std::move.
/// Under -fsanitize=address it also miscompiles reference parameters that one coroutine
/// forwards to another (the callee read garbage through them; ratls/channel.cpp): pass such
/// arguments as named pointers instead.
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
  // The tracked executor keeps the caller's io_context from running out of work (and so from
  // being torn down) while the result is still on its way back.
  auto home = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
  boost::asio::post(pool, [state, home = std::move(home), work = std::move(work)]() mutable {
    Value value = work();
    // Hand `state` over so that the last reference is always dropped on the caller's thread:
    // the timer inside it belongs to the caller's io_context.
    boost::asio::post(home, [state = std::move(state), value = std::move(value)]() mutable {
      state->result.emplace(std::move(value));
      state->timer.cancel();
    });
  });
  co_await state->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return std::move(state->result);
}

}  // namespace atls
