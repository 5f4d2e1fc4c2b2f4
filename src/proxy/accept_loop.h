#pragma once
// The accept loop every multi-threaded listener runs (attested server, pg direct listener,
// token service): connections are spread over the runtime's I/O threads round-robin, each
// one served on its thread while it holds a ConnectionLimit slot.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "core/connection_limit.h"
#include "core/runtime.h"

namespace atls::proxy {

/// Serves one accepted connection on I/O thread `io_index`; `slot` must live as long as the
/// connection (keep it as a parameter of the coroutine).
using ServeConnection = std::function<boost::asio::awaitable<void>(
    boost::asio::ip::tcp::socket socket, std::size_t io_index, ConnectionLimit::Slot slot)>;

/// Accepts on `acceptor` (whose executor runs this loop) until it is closed. A connection
/// beyond `limit` is closed at once (the limit's on_refused counts it) and logged; transient
/// accept failures (EMFILE and friends) pause the loop for 100 ms so that established
/// connections keep being served. TCP_NODELAY is set on every accepted socket. `listener`
/// names the listener in log lines. The pointed-to objects must outlive the loop.
boost::asio::awaitable<void> accept_connections(boost::asio::ip::tcp::acceptor* acceptor,
                                                Runtime* runtime, ConnectionLimit* limit,
                                                std::string listener, ServeConnection serve);

}  // namespace atls::proxy
