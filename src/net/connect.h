#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>

#include "core/error.h"
#include "net/address.h"

namespace atls::net {

/// Resolves `target` and connects to the first reachable address within `timeout`; the socket
/// has TCP_NODELAY set.
/// Errors: ResolveFailed, ConnectFailed, Timeout (detail names the target).
boost::asio::awaitable<Outcome<boost::asio::ip::tcp::socket>> connect_tcp(
    const HostPort& target, std::chrono::milliseconds timeout);

}  // namespace atls::net
