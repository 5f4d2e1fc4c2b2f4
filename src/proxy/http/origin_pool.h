#pragma once
// Keep-alive HTTP/1.1 connections from the proxy-server to its target, one pool per I/O thread
// (a request and the connection carrying it live on the same thread). flashbots opens a new
// target connection per request (interop spec §7.3); reusing them is where much of the
// throughput difference comes from (docs/benchmarks.md).

#include <chrono>
#include <deque>
#include <memory>

#include "http/h1_client.h"
#include "http/stream_util.h"
#include "net/address.h"

namespace atls::proxy {

struct OriginOptions {
  net::HostPort target;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Idle connections older than this are closed instead of reused.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  std::size_t max_idle = 128;
  http::H1ClientOptions h1;
};

class OriginPool {
 public:
  /// Used from one I/O thread only: its connections run on the executor of the coroutine that
  /// calls send().
  explicit OriginPool(OriginOptions options);

  /// Sends `request` to the target. A request without a body that fails on a reused
  /// connection before any response byte arrived (the target closed an idle connection) is
  /// retried once on a new connection. Errors: net connect errors, http errors.
  boost::asio::awaitable<Outcome<http::UpstreamResponse>> send(
      http::RequestHead request, http::BodyPipePtr body,
      http::InformationalHandler on_informational);

  /// Connections waiting for a request (some may have been closed by the target meanwhile).
  std::size_t idle_connections() const noexcept { return idle_->sessions.size(); }

 private:
  using Session = http::H1ClientSession<http::TcpSocket>;
  // The free connections, most recently freed at the back. A connection puts itself back when
  // its exchange ends (its state callback), so taking one costs O(1) however many connections
  // are busy; the callback holds this list weakly, as a connection may outlive the pool.
  struct IdleSessions {
    std::deque<std::shared_ptr<Session>> sessions;
  };
  /// The most recently freed connection that is still open and not past idle_timeout.
  std::shared_ptr<Session> take_idle();
  boost::asio::awaitable<Outcome<std::shared_ptr<Session>>> connect_new();

  OriginOptions options_;
  std::shared_ptr<IdleSessions> idle_ = std::make_shared<IdleSessions>();
};

}  // namespace atls::proxy
