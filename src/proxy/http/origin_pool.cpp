#include "proxy/http/origin_pool.h"

#include "http/errors.h"
#include "net/connect.h"

namespace atls::proxy {

namespace asio = boost::asio;

OriginPool::OriginPool(OriginOptions options) : options_(std::move(options)) {
  if (options_.h1.default_host.empty()) {
    options_.h1.default_host = options_.target.to_string();
  }
}

std::shared_ptr<OriginPool::Session> OriginPool::take_idle() {
  auto& idle = idle_->sessions;
  const auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    // Most recently used first: it is the least likely to have been closed by the target.
    std::shared_ptr<Session> session = std::move(idle.back());
    idle.pop_back();
    if (!session->can_send()) {
      continue;  // closed while idle
    }
    if (now - session->idle_since() > options_.idle_timeout) {
      // This one and every one freed before it are too old.
      session->close();
      for (const auto& older : idle) {
        older->close();
      }
      idle.clear();
      return nullptr;
    }
    return session;
  }
  return nullptr;
}

asio::awaitable<Outcome<std::shared_ptr<OriginPool::Session>>> OriginPool::connect_new() {
  auto socket = co_await net::connect_tcp(options_.target, options_.connect_timeout);
  if (!socket) {
    co_return socket.error();
  }
  auto session = std::make_shared<Session>(std::move(*socket), options_.h1);
  std::weak_ptr<IdleSessions> list = idle_;
  std::weak_ptr<Session> weak = session;
  session->set_state_callback([list, weak, max_idle = options_.max_idle] {
    auto idle = list.lock();
    auto freed = weak.lock();
    if (!idle || !freed || !freed->can_send()) {
      return;  // the pool is gone, or the connection closed (dropped when next seen)
    }
    idle->sessions.push_back(std::move(freed));
    // Bound the pool: the oldest idle connection goes beyond the limit.
    if (idle->sessions.size() > max_idle) {
      auto oldest = std::move(idle->sessions.front());
      idle->sessions.pop_front();
      oldest->close();
    }
  });
  co_return session;
}

asio::awaitable<Outcome<http::UpstreamResponse>> OriginPool::send(
    http::RequestHead request, http::BodyPipePtr body,
    http::InformationalHandler on_informational) {
  // A kept-alive connection is taken without a coroutine frame; only a new one is awaited.
  std::shared_ptr<Session> session = take_idle();
  if (!session) {
    auto connected = co_await connect_new();
    if (!connected) {
      co_return connected.error();
    }
    session = std::move(*connected);
  }
  // The head stays in this frame and the session borrows it, so that the keep-alive race
  // below can resend it without a copy of every request.
  const bool retryable = !request.has_body && session->requests_sent() > 0;
  auto response = co_await session->send_borrowed(&request, body, on_informational);
  if (!response && retryable &&
      response.error().code == make_error_code(http::Errc::ConnectionClosed)) {
    auto fresh = co_await connect_new();
    if (!fresh) {
      co_return fresh.error();
    }
    auto retry_body = std::make_shared<http::BodyPipe>();
    retry_body->finish();
    co_return co_await (*fresh)->send_borrowed(&request, retry_body, on_informational);
  }
  co_return response;
}

}  // namespace atls::proxy
