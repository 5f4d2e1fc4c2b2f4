#include "proxy/http/origin_pool.h"

#include "http/errors.h"
#include "net/connect.h"

namespace atls::proxy {

namespace asio = boost::asio;

OriginPool::OriginPool(asio::any_io_executor executor, OriginOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  if (options_.h1.default_host.empty()) {
    options_.h1.default_host = options_.target.to_string();
  }
}

std::shared_ptr<OriginPool::Session> OriginPool::take_idle() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(sessions_, [&](const std::shared_ptr<Session>& session) {
    if (session->closed()) {
      return true;
    }
    if (session->can_send() && now - session->idle_since() > options_.idle_timeout) {
      session->close();
      return true;
    }
    return false;
  });
  // Most recently used first: it is the least likely to have been closed by the target.
  for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it) {
    if ((*it)->can_send()) {
      auto session = *it;
      sessions_.erase(std::next(it).base());
      sessions_.push_back(session);
      return session;
    }
  }
  return nullptr;
}

asio::awaitable<Outcome<std::shared_ptr<OriginPool::Session>>> OriginPool::connect_new() {
  auto socket = co_await net::connect_tcp(options_.target, options_.connect_timeout);
  if (!socket) {
    co_return socket.error();
  }
  auto session = std::make_shared<Session>(std::move(*socket), options_.h1);
  sessions_.push_back(session);
  // Bound the pool: drop the oldest idle connections beyond the limit.
  std::size_t idle = 0;
  for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it) {
    if ((*it)->can_send() && ++idle > options_.max_idle) {
      (*it)->close();
    }
  }
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
