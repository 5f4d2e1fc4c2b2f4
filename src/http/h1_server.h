#pragma once
// Serves HTTP/1.1 requests on one connection (RFC 9112), handing each to a RequestHandler with
// streamed bodies: keep-alive, pipelining (one request at a time), chunked bodies with
// trailers, 1xx relaying (Expect: 100-continue), HEAD, and protocol upgrades / CONNECT turned
// into tunnels.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "http/exchange.h"

namespace atls::http {

/// Shared by the connections of one listener: when draining starts, connections waiting idle
/// for their next request close at once, and busy ones close after their current response
/// (with `Connection: close`).
class DrainSignal {
 public:
  bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }
  /// Starts draining; thread-safe, idempotent.
  void start();
  /// Registers a connection's canceller, run once when draining starts (it cancels the
  /// connection's wait for its next request if it is idle then); returns its id.
  std::uint64_t add_idle(std::function<void()> cancel);
  void remove_idle(std::uint64_t id);

 private:
  std::atomic<bool> draining_{false};
  std::mutex mutex_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::function<void()>> idle_;
};

struct H1ServerOptions {
  /// Deadline for the first request head on a new connection.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(30)};
  /// Deadline for the next request head on a kept-alive connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::uint32_t max_header_bytes = 64 * 1024;
  std::size_t body_high_water = BodyPipe::kDefaultHighWater;
  /// Graceful drain of this listener's connections; may be null.
  std::shared_ptr<DrainSignal> drain;
};

/// Serves requests until the peer closes, an error occurs, or a response requires closing.
/// `buffer` may hold bytes already read from the connection. The stream must outlive the call.
template <class Stream>
boost::asio::awaitable<void> serve_h1(Stream& stream, boost::beast::flat_buffer& buffer,
                                      boost::asio::ip::address peer, RequestHandler handler,
                                      H1ServerOptions options);

/// The head of a text/plain response of `length` bytes.
ResponseHead make_text_head(int status, std::size_t length);
/// A response with a short text/plain body (error pages such as "Request failed: ...").
UpstreamResponse make_text_response(int status, std::string_view text);

/// Answers 404 Not Found (text body).
void send_not_found(ServerExchange& exchange);
/// Answers 405 Method Not Allowed with `allow`, the methods the resource accepts ("GET, HEAD");
/// RFC 9110 §15.5.6 requires the Allow field.
void send_method_not_allowed(ServerExchange& exchange, std::string_view allow);

/// Runs `handler` for `exchange` and answers 502 if it returned without responding.
boost::asio::awaitable<void> run_request_handler(RequestHandler handler,
                                                 ServerExchangePtr exchange);

}  // namespace atls::http
