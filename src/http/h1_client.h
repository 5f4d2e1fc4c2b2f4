#pragma once
// One HTTP/1.1 client connection (RFC 9112) used as an UpstreamSession: sends one request at a
// time with a streamed body, reads the response head (relaying 1xx), then streams the response
// body while the caller forwards it. Kept alive for the next request when both messages ended
// cleanly. A 101 answer to an upgrade request turns the connection into a tunnel. Responses are
// parsed by http/h1_parser straight from the connection buffer.

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http/exchange.h"
#include "http/h1_wire.h"

namespace atls::http {

struct H1ClientOptions {
  std::uint32_t max_header_bytes = 64 * 1024;
  std::size_t body_high_water = BodyPipe::kDefaultHighWater;
  /// Host field for requests that carry neither an authority nor a Host field.
  std::string default_host;
};

template <class Stream>
class H1ClientSession final : public UpstreamSession,
                              public std::enable_shared_from_this<H1ClientSession<Stream>> {
 public:
  H1ClientSession(Stream stream, H1ClientOptions options);
  ~H1ClientSession() override;

  /// @par Thread Safety
  /// Call on the stream's executor; one request at a time (can_send()).
  boost::asio::awaitable<Outcome<UpstreamResponse>> send(
      RequestHead request, BodyPipePtr request_body,
      InformationalHandler on_informational) override;
  /// As send(), but the request head stays the caller's (it must outlive the call). A pool
  /// that resends a request when a reused connection turns out to be closed (RFC 9112 §9.3.1)
  /// then needs no copy of every request it sends.
  boost::asio::awaitable<Outcome<UpstreamResponse>> send_borrowed(
      const RequestHead* request, BodyPipePtr request_body, InformationalHandler on_informational);

  bool can_send() const noexcept override { return !busy_ && !closed_; }
  bool closed() const noexcept override { return closed_; }
  /// How many requests this connection has carried (a failure on a reused connection before
  /// any response byte is the classic keep-alive race and is safe to retry).
  std::size_t requests_sent() const noexcept { return requests_; }
  std::chrono::steady_clock::time_point idle_since() const noexcept { return idle_since_; }
  /// Closes the connection; an exchange in progress fails.
  void close();
  /// Called whenever the connection becomes free for a new request or closes (pools wake
  /// their waiters with it).
  void set_state_callback(std::function<void()> callback) { on_state_ = std::move(callback); }

 private:
  struct Exchange;
  boost::asio::awaitable<void> write_request_body(std::shared_ptr<Exchange> exchange);
  boost::asio::awaitable<void> read_response_body(std::shared_ptr<Exchange> exchange);
  /// Feeds buffered bytes to the response body's decoder; returns whether the body ended
  /// (normally or not: the pipe has been finished or failed).
  bool decode_buffered(Exchange& exchange);
  /// Fails the exchange in progress and closes the connection.
  void abort_exchange(Exchange& exchange, bool upgrade);
  boost::asio::awaitable<void> pump_tunnel_in(std::shared_ptr<Exchange> exchange);
  void part_done(const std::shared_ptr<Exchange>& exchange);

  Stream stream_;
  H1ClientOptions options_;
  boost::beast::flat_buffer buffer_;
  ReadScratch scratch_;  // tunnel reads after a 101 (bodies are read into buffer_)
  bool busy_ = false;
  bool closed_ = false;
  std::size_t requests_ = 0;
  std::chrono::steady_clock::time_point idle_since_;
  std::function<void()> on_state_;
};

}  // namespace atls::http
