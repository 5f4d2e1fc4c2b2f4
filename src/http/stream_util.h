#pragma once
// Helpers over the stream types the HTTP layer runs on: plain TCP (beast::tcp_stream, for
// connections that need its timeouts), TLS over TCP (asio::ssl::stream<beast::tcp_stream>, the
// attested channel), and a bare TCP socket (the proxy-server's kept-alive target connections,
// which need no per-operation timeout and so skip tcp_stream's bookkeeping on every read and
// write: docs/benchmarks.md).

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <type_traits>

namespace atls::http {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;
using TcpSocket = boost::asio::ip::tcp::socket;

inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

template <class Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

/// The TCP socket under a stream.
inline TcpSocket& tcp_socket(TcpSocket& stream) noexcept {
  return stream;
}
inline TcpSocket& tcp_socket(PlainStream& stream) noexcept {
  return stream.socket();
}
inline TcpSocket& tcp_socket(TlsStream& stream) noexcept {
  return stream.next_layer().socket();
}

/// Whether a direct send(2) beats handing the write to Asio. With the epoll reactor it does
/// (below); with io_uring it does not: Asio queues the write with the other operations of the
/// event-loop pass and submits them all in one io_uring_enter, where a direct send would be a
/// system call of its own for every write (docs/benchmarks.md "io_uring").
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
inline constexpr bool kDirectSendPaysOff = false;
#else
inline constexpr bool kDirectSendPaysOff = true;
#endif

/// Sends what of `data` the socket takes right now: one send(2) with MSG_DONTWAIT (never
/// waits) and MSG_NOSIGNAL (a closed peer is an error, not SIGPIPE). Returns what is left to
/// send: empty when everything went out, all of `data` for a TLS stream (whose bytes must go
/// through the TLS engine) and in an io_uring build (kDirectSendPaysOff). `ec` is set for a
/// real error only, not for a full socket buffer.
///
/// Why: with the epoll reactor, asio::async_write tries the same send at once, but delivers its
/// completion through the scheduler — a posted handler, a scheduler pass and a coroutine
/// resumption per write. A request or response head, usually small and going into a socket
/// buffer with room, then costs one syscall and no suspension (docs/benchmarks.md). The caller
/// writes the rest with asio::async_write, and must have no other write pending on the stream.
template <class Stream>
std::string_view send_what_fits(Stream& stream, std::string_view data,
                                boost::system::error_code& ec) noexcept {
  if constexpr (kIsTls<Stream> || !kDirectSendPaysOff) {
    return data;
  } else {
    TcpSocket& socket = tcp_socket(stream);
    for (;;) {
      const ssize_t sent =
          ::send(socket.native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent >= 0) {
        // A short send means the buffer is full now: the rest waits for writability.
        data.remove_prefix(static_cast<std::size_t>(sent));
        return data;
      }
      if (errno != EINTR) {
        break;
      }
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec.assign(errno, boost::asio::error::get_system_category());
    }
    return data;
  }
}

/// Closes a stream: a TLS close_notify first (bounded by `grace`), then the socket.
template <class Stream>
boost::asio::awaitable<void> close_stream(
    Stream& stream, std::chrono::milliseconds grace = std::chrono::milliseconds(500)) {
  auto& lowest = boost::beast::get_lowest_layer(stream);
  if constexpr (kIsTls<Stream>) {
    if (lowest.socket().is_open()) {
      lowest.expires_after(grace);
      co_await stream.async_shutdown(kUseTuple);
    }
  }
  boost::system::error_code ignored;
  lowest.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  lowest.close();
}

/// Closes the socket at once (cancels pending operations).
template <class Stream>
void abort_stream(Stream& stream) noexcept {
  if constexpr (std::is_same_v<Stream, TcpSocket>) {
    boost::system::error_code ignored;
    stream.close(ignored);
  } else {
    boost::beast::get_lowest_layer(stream).close();
  }
}

}  // namespace atls::http
