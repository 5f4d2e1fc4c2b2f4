#pragma once
// The proxy-client (interop spec §7.1): a local plain-HTTP listener whose requests are
// forwarded over the attested channel(s) to the proxy-server, with the server's attestation
// added to every response (§7.4).
//
// Source clients may speak HTTP/1.1 or HTTP/2 with prior knowledge (h2c, detected by the
// connection preface, RFC 9113 §3.4); flashbots accepts only HTTP/1.x. A WebSocket upgrade
// from a source client is carried as an RFC 8441 extended CONNECT on an HTTP/2 channel.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <memory>

#include "core/connection_limit.h"
#include "http/h1_server.h"
#include "http/h2_session.h"
#include "proxy/http/channel_pool.h"

namespace atls::proxy {

struct ClientProxyOptions {
  boost::asio::ip::tcp::endpoint listen;
  ChannelPoolOptions pool;
  http::H1ServerOptions h1;
  http::H2Options h2;
  /// --max-connections: more concurrent source connections are closed at once after accept.
  std::size_t max_connections = 10000;
  /// Called for each connection refused by max_connections (metrics); may be empty.
  std::function<void()> on_connection_refused;
};

class ClientProxy {
 public:
  ClientProxy(boost::asio::io_context& io, ClientProxyOptions options);

  /// Establishes the first channel (see ChannelPool::start).
  boost::asio::awaitable<Outcome<void>> connect();
  /// Binds the local listener and starts accepting source connections.
  Outcome<boost::asio::ip::tcp::endpoint> listen();
  /// Graceful drain: stops accepting; source connections close once idle (HTTP/1.1: after
  /// the current response, with `Connection: close`; HTTP/2: GOAWAY, open streams finish);
  /// once every source connection has closed, the channels close gracefully too (HTTP/2
  /// GOAWAY; HTTP/1.1 channels when their exchange ends). A request whose connection was
  /// accepted before the drain is therefore forwarded, even if its head arrives later.
  void shutdown();
  /// After shutdown(): whether every source connection and every channel has closed.
  bool drained() const noexcept { return limit_.open() == 0 && !pool_.connected(); }

  ChannelPool& channels() noexcept { return pool_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve_source(boost::asio::ip::tcp::socket socket,
                                            boost::asio::ip::address peer_address,
                                            ConnectionLimit::Slot slot);
  boost::asio::awaitable<void> forward(http::ServerExchangePtr exchange);
  http::RequestHandler handler();

  boost::asio::io_context& io_;
  ClientProxyOptions options_;
  ChannelPool pool_;
  ConnectionLimit limit_;
  std::string server_authority_;  // Host for source requests without one
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  /// HTTP/1.1 source connections close when idle once draining starts.
  std::shared_ptr<http::DrainSignal> drain_ = std::make_shared<http::DrainSignal>();
  /// HTTP/2 source connections, for the GOAWAY at shutdown (this proxy runs on one thread).
  std::map<std::uint64_t, std::weak_ptr<http::H2Session<http::PlainStream>>> h2_sources_;
  std::uint64_t next_h2_source_ = 0;
  bool draining_ = false;
};

/// The request sent over the channel for a source request (exposed for tests): connection
/// fields and spoofed attestation headers removed; a WebSocket upgrade becomes an extended
/// CONNECT when the channel speaks HTTP/2. A request without Host (HTTP/1.0 allows that, RFC
/// 9112 §3.2) gets `Host: fallback_host`: HTTP/1.1 requires the field and HTTP/2 requires
/// :authority or Host (RFC 9113 §8.3.1).
http::RequestHead make_channel_request(const http::RequestHead& source, ratls::HttpVersion channel,
                                       std::string_view fallback_host);

}  // namespace atls::proxy
