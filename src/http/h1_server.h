#pragma once
// Serves HTTP/1.1 requests on one connection (RFC 9112), handing each to a RequestHandler with
// streamed bodies: keep-alive, pipelining (one request at a time), chunked bodies with
// trailers, 1xx relaying (Expect: 100-continue), HEAD, and protocol upgrades / CONNECT turned
// into tunnels.

#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "http/exchange.h"

namespace atls::http {

struct H1ServerOptions {
  /// Deadline for the first request head on a new connection.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(30)};
  /// Deadline for the next request head on a kept-alive connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::uint32_t max_header_bytes = 64 * 1024;
  std::size_t body_high_water = BodyPipe::kDefaultHighWater;
};

/// Serves requests until the peer closes, an error occurs, or a response requires closing.
/// `buffer` may hold bytes already read from the connection. The stream must outlive the call.
template <class Stream>
boost::asio::awaitable<void> serve_h1(Stream& stream, boost::beast::flat_buffer& buffer,
                                      boost::asio::ip::address peer, RequestHandler handler,
                                      H1ServerOptions options);

/// A response with a short text/plain body (error pages such as "Request failed: ...").
UpstreamResponse make_text_response(const boost::asio::any_io_executor& executor, int status,
                                    std::string_view text);

/// Runs `handler` for `exchange` and answers 502 if it returned without responding.
boost::asio::awaitable<void> run_request_handler(RequestHandler handler,
                                                 ServerExchangePtr exchange);

}  // namespace atls::http
