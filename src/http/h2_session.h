#pragma once
// One HTTP/2 connection (RFC 9113) over a byte stream, driven by nghttp2, in either role:
//
//  * server: every request stream becomes a ServerExchange handed to a RequestHandler;
//  * client: an UpstreamSession that multiplexes every request sent through it.
//
// Bodies are streamed through BodyPipes. Flow control is tied to consumption: window credit
// for received DATA is returned only when the bytes leave the receiving pipe (automatic
// WINDOW_UPDATE is off), so a slow consumer slows the peer instead of growing memory. Tunnels:
// plain CONNECT (RFC 9113 §8.5) and extended CONNECT for WebSocket (RFC 8441).
//
// Threading: the session and all its streams live on the stream's executor (one io_context).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/async_event.h"
#include "http/exchange.h"

struct nghttp2_session;

namespace atls::http {

struct H2Options {
  /// SETTINGS_MAX_CONCURRENT_STREAMS we allow the peer (server role).
  std::uint32_t max_concurrent_streams = 1024;
  /// Receive window per stream and for the connection. The per-stream window bounds what one
  /// stream can have buffered here.
  std::uint32_t stream_window = 1U << 20;
  std::uint32_t connection_window = 16U << 20;
  /// Client role: PING period and the deadline for its ACK (RFC 9113 §6.7); zero = off.
  std::chrono::milliseconds ping_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds ping_timeout{std::chrono::seconds(10)};
  /// Server role: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
  bool enable_connect_protocol = true;
  /// Client role: :scheme of requests that carry none.
  std::string default_scheme = "http";
  /// Largest header section accepted from the peer.
  std::size_t max_header_bytes = std::size_t{64} * 1024;
  std::size_t body_high_water = BodyPipe::kDefaultHighWater;
};

template <class Stream>
class H2Session final : public UpstreamSession,
                        public std::enable_shared_from_this<H2Session<Stream>> {
 public:
  enum class Role { Client, Server };

  /// Server role: `handler` serves each request; `peer` is reported by every exchange.
  static std::shared_ptr<H2Session> make_server(Stream stream, H2Options options,
                                                RequestHandler handler,
                                                boost::asio::ip::address peer);
  static std::shared_ptr<H2Session> make_client(Stream stream, H2Options options);
  ~H2Session() override;
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  /// Bytes already read from the stream (e.g. a sniffed client preface); call before run().
  void set_initial_bytes(Bytes initial) { initial_ = std::move(initial); }
  /// Runs the connection until it ends (peer closed, error, GOAWAY completed, terminate()).
  /// Returns the reason it ended (empty for a clean shutdown).
  boost::asio::awaitable<ErrorCode> run();

  // UpstreamSession (client role)
  boost::asio::awaitable<Outcome<UpstreamResponse>> send(
      RequestHead request, BodyPipePtr request_body,
      InformationalHandler on_informational) override;
  bool can_send() const noexcept override;
  bool closed() const noexcept override { return closed_; }

  /// Graceful shutdown: GOAWAY, no new streams; run() returns once open streams finished.
  /// Streams opened by bytes given to set_initial_bytes() count as open.
  void shutdown();
  /// Ends the connection now; open streams fail.
  void terminate();
  std::size_t active_streams() const noexcept { return streams_.size(); }
  Stream& stream() noexcept { return stream_; }

 private:
  struct StreamState;
  class Exchange;
  struct Callbacks;

  H2Session(Stream stream, Role role, H2Options options, RequestHandler handler,
            boost::asio::ip::address peer);
  bool init();
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> ping_loop();
  void signal_write() { write_event_.notify(); }
  void fail(ErrorCode reason);
  void attach_output(const std::shared_ptr<StreamState>& state, const BodyPipePtr& body);
  void attach_input(StreamState& state);
  void submit_response(const std::shared_ptr<StreamState>& state, ResponseHead head,
                       BodyPipePtr body);
  void submit_informational(StreamState& state, const ResponseHead& head);
  void dispatch_request(const std::shared_ptr<StreamState>& state);
  void deliver_response(const std::shared_ptr<StreamState>& state);

  Stream stream_;
  Role role_;
  H2Options options_;
  RequestHandler handler_;
  boost::asio::ip::address peer_;
  nghttp2_session* session_ = nullptr;
  // Looked up on every header field and DATA chunk: hashed, not ordered.
  std::unordered_map<std::int32_t, std::shared_ptr<StreamState>> streams_;
  Bytes initial_;
  std::vector<std::uint8_t> out_;
  std::vector<std::uint8_t> writing_;
  AsyncEvent write_event_;
  std::unique_ptr<boost::asio::steady_timer> ping_timer_;
  AsyncEvent done_event_;
  int loops_running_ = 0;
  bool closed_ = false;
  bool goaway_received_ = false;
  bool shutting_down_ = false;
  bool goaway_after_initial_ = false;  // shutdown() came before initial_ was consumed
  ErrorCode end_reason_;
  std::chrono::steady_clock::time_point last_ping_ack_;
  bool ping_outstanding_ = false;
};

}  // namespace atls::http
