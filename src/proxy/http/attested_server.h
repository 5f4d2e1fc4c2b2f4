#pragma once
// The server side of attested channels (proxy-server, attested-file-server): accepts TCP
// connections, runs TLS 1.3 + the flashbots-ratls/1 exchange (interop spec §2, §7.3), then
// serves HTTP/2 or HTTP/1.1 on the channel as the negotiated ALPN says (§1.2), with a request
// handler made for that channel (so it knows the client's attestation).

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/runtime.h"
#include "http/h1_server.h"
#include "http/h2_session.h"
#include "ratls/channel.h"
#include "tls/context.h"

namespace atls::proxy {

/// What a request handler knows about the channel it serves.
struct ChannelContext {
  boost::asio::ip::tcp::endpoint peer;
  std::shared_ptr<const ratls::ChannelInfo> channel;
  /// Index of the I/O thread the channel lives on (for per-thread resources).
  std::size_t io_index = 0;
};

using HandlerFactory = std::function<http::RequestHandler(const ChannelContext&)>;

struct AttestedServerOptions {
  boost::asio::ip::tcp::endpoint listen;
  tls::SharedSslContext tls;
  ratls::ChannelConfig channel;
  http::H2Options h2;
  http::H1ServerOptions h1;
  std::size_t max_connections = 10000;
};

class AttestedServer {
 public:
  AttestedServer(Runtime& runtime, AttestedServerOptions options, HandlerFactory handlers);
  /// Binds and listens. Errors: the bind failure, naming the address.
  Outcome<boost::asio::ip::tcp::endpoint> start();
  /// Stops accepting new connections (open channels continue).
  void stop_accepting();
  /// Graceful drain: stops accepting, sends GOAWAY on every HTTP/2 channel (open streams
  /// finish, then the channel closes), closes idle HTTP/1.1 channels and busy ones after their
  /// current response.
  void drain();
  std::size_t open_channels() const noexcept { return open_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::size_t io_index);

  Runtime& runtime_;
  AttestedServerOptions options_;
  HandlerFactory handlers_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::atomic<std::size_t> open_{0};
  std::mutex sessions_mutex_;
  std::map<const void*, std::function<void()>> h2_shutdowns_;  // per live HTTP/2 channel
  bool draining_ = false;
  std::size_t next_io_ = 0;
};

/// Binds a listening acceptor on `endpoint` (SO_REUSEADDR). Error detail names the address.
Outcome<std::unique_ptr<boost::asio::ip::tcp::acceptor>> listen_on(
    boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace atls::proxy
