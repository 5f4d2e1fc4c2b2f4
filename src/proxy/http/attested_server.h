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

#include "core/connection_limit.h"
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
  /// --max-connections: more concurrent connections are closed at once after accept.
  std::size_t max_connections = 10000;
  /// Called for each connection refused by max_connections (metrics); may be empty.
  std::function<void()> on_connection_refused;
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
  std::size_t open_channels() const noexcept { return limit_.open(); }

  /// Closes gracefully (as drain() does, but only those) the established channels for which
  /// `reject` returns true — e.g. peers a reloaded policy no longer accepts. Returns how many.
  /// @par Thread Safety
  /// Any thread; `reject` runs under the server's lock and must not block.
  std::size_t close_channels_if(const std::function<bool(const ratls::ChannelInfo&)>& reject);

  /// New connections present `context` (a reloaded certificate); open channels keep theirs.
  /// Any thread.
  void replace_tls_context(tls::SharedSslContext context) { tls_.set(std::move(context)); }

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::size_t io_index,
                                     ConnectionLimit::Slot slot);

  Runtime& runtime_;
  AttestedServerOptions options_;
  HandlerFactory handlers_;
  tls::ContextSlot tls_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  ConnectionLimit limit_;
  struct LiveChannel {
    std::shared_ptr<const ratls::ChannelInfo> info;
    std::function<void()> close_gracefully;  // GOAWAY (HTTP/2) or the channel's DrainSignal
  };
  std::mutex channels_mutex_;
  std::map<std::uint64_t, LiveChannel> channels_;  // established channels, by serial
  std::uint64_t next_channel_ = 0;
  bool draining_ = false;
};

/// Binds a listening acceptor on `endpoint` (SO_REUSEADDR). Error detail names the address.
Outcome<std::unique_ptr<boost::asio::ip::tcp::acceptor>> listen_on(
    boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace atls::proxy
