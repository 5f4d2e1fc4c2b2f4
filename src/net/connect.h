#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "core/error.h"
#include "net/address.h"

namespace atls::net {

/// Resolves `target` and connects to the first reachable address within `timeout`.
/// Errors: ResolveFailed, ConnectFailed, Timeout (detail names the target).
boost::asio::awaitable<Outcome<boost::beast::tcp_stream>> connect_tcp(
    const HostPort& target, std::chrono::milliseconds timeout);

}  // namespace atls::net
