#pragma once
// The proxy-client in database mode: a local pgwire listener (CockroachDB's port 26257 in the
// examples) whose connections each travel as their own HTTP/2 CONNECT stream over the ONE
// attested channel (ChannelPool), so opening a database connection never costs an attestation.
//
// Per local connection (standards.md §5.1, §5.3):
//   SSLRequest     -> 'N' (plaintext on loopback, the default) or, with a local certificate,
//                     'S' and TLS (no bytes may follow the request: CVE-2021-23214)
//   GSSENCRequest  -> 'N' (GSS through the proxy is unsupported; never forwarded: PG answers 'G')
//   CancelRequest  -> a stream carrying just that packet (the proxy-server maps the key)
//   StartupMessage -> checked strictly, then forwarded unchanged, then bytes are spliced; the
//                     authentication exchange passes through untouched (password, MD5, SCRAM
//                     without channel binding: see docs/database.md "SCRAM channel binding")
// A malformed packet gets FATAL 08P01 with the pg.* error id; a missing channel FATAL 08006.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <limits>
#include <memory>
#include <optional>

#include "core/connection_limit.h"
#include "proxy/http/channel_pool.h"
#include "proxy/pg/duplex.h"
#include "proxy/pg/wire.h"

namespace atls::proxy::pg {

struct PgClientOptions {
  boost::asio::ip::tcp::endpoint listen;
  ChannelPoolOptions pool;
  /// Server context for local TLS (answer 'S'); null = answer 'N' (plaintext on loopback).
  tls::SharedSslContext local_tls;
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(30)};
  /// --max-connections: more concurrent local connections are closed at once after accept.
  std::size_t max_connections = 10000;
  /// Called for each connection refused by max_connections (metrics); may be empty.
  std::function<void()> on_connection_refused;
};

class PgClientProxy {
 public:
  PgClientProxy(boost::asio::io_context& io, PgClientOptions options);

  /// Establishes the attested channel (see ChannelPool::start).
  boost::asio::awaitable<Outcome<void>> connect();
  /// Binds the local listener and starts accepting.
  Outcome<boost::asio::ip::tcp::endpoint> listen();
  /// Stops accepting and closes the channel gracefully: GOAWAY, open database sessions (their
  /// CONNECT streams) continue until they end. Connections accepted before and still in their
  /// start-up phase get their stream first: the GOAWAY waits for them.
  void shutdown();
  /// After shutdown(): whether the channel has closed, i.e. every database session has ended.
  bool drained() const noexcept { return starting_.open() == 0 && !pool_.connected(); }
  ChannelPool& channels() noexcept { return pool_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  /// `starting` is held until the connection's tunnel is open (or it ends without one).
  boost::asio::awaitable<void> serve_local(boost::asio::ip::tcp::socket socket,
                                           ConnectionLimit::Slot slot,
                                           std::optional<ConnectionLimit::Slot> starting);
  boost::asio::awaitable<void> serve_secure(SocketDuplex<http::TlsStream>& secure,
                                            boost::asio::ip::tcp::endpoint source,
                                            std::optional<ConnectionLimit::Slot>& starting);
  boost::asio::awaitable<void> run_session(Duplex& local, boost::asio::ip::tcp::endpoint source,
                                           Bytes packet, StartupPacket parsed,
                                           std::optional<ConnectionLimit::Slot>& starting);
  /// Opens a tunnel stream for a connection from `source`.
  boost::asio::awaitable<Outcome<DuplexPtr>> open_tunnel(boost::asio::ip::tcp::endpoint source);

  boost::asio::io_context& io_;
  PgClientOptions options_;
  ChannelPool pool_;
  ConnectionLimit limit_;
  /// Local connections that have no tunnel stream yet (start-up phase); unlimited.
  ConnectionLimit starting_{std::numeric_limits<std::size_t>::max()};
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  bool draining_ = false;
};

}  // namespace atls::proxy::pg
