// send_what_fits over a real loopback connection. In an epoll build: all of a small write goes
// out at once, a write larger than the socket buffers comes back as a remainder (never
// blocking), a closed peer is an error (not SIGPIPE). In an io_uring build every write is left
// to Asio. Either way a TLS stream is left to the TLS engine. (CI runs the dev build with
// io_uring and the asan build with epoll, so both branches run.)
#include "http/stream_util.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>

namespace atls::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A connected pair of loopback sockets.
struct LoopbackPair {
  asio::io_context io;
  tcp::socket client{io};
  tcp::socket server{io};

  LoopbackPair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

#define SKIP_WITHOUT_DIRECT_SEND()                             \
  if (!kDirectSendPaysOff) {                                   \
    GTEST_SKIP() << "io_uring build: writes are left to Asio"; \
  }

TEST(SendWhatFits, IoUringBuildLeavesEveryWriteToAsio) {
  if (kDirectSendPaysOff) {
    GTEST_SKIP() << "epoll build: writes go out directly";
  }
  LoopbackPair pair;
  boost::system::error_code ec;
  EXPECT_EQ(send_what_fits(pair.client, "GET / HTTP/1.1\r\n\r\n", ec), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(ec);
  EXPECT_EQ(pair.server.available(), 0U);  // nothing was sent
}

TEST(SendWhatFits, SmallWriteGoesOutAtOnce) {
  SKIP_WITHOUT_DIRECT_SEND();
  LoopbackPair pair;
  boost::system::error_code ec;
  const std::string_view rest = send_what_fits(pair.client, "GET / HTTP/1.1\r\n\r\n", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(rest.empty());
  std::string received(18, '\0');
  asio::read(pair.server, asio::buffer(received));
  EXPECT_EQ(received, "GET / HTTP/1.1\r\n\r\n");
}

TEST(SendWhatFits, WriteLargerThanTheBuffersReturnsTheRestWithoutBlocking) {
  SKIP_WITHOUT_DIRECT_SEND();
  LoopbackPair pair;
  const std::string big(std::size_t{64} << 20, 'x');  // far more than loopback buffers hold
  boost::system::error_code ec;
  const std::string_view rest = send_what_fits(pair.client, big, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(rest.empty());
  EXPECT_LT(rest.size(), big.size());                             // something went out
  EXPECT_EQ(rest.data() + rest.size(), big.data() + big.size());  // a suffix of the input
}

TEST(SendWhatFits, ClosedPeerIsAnErrorNotASignal) {
  SKIP_WITHOUT_DIRECT_SEND();
  LoopbackPair pair;
  pair.server.close();
  boost::system::error_code ec;
  // The first send may still be accepted (the reset comes back with it); a later one fails.
  for (int i = 0; i < 100 && !ec; ++i) {
    (void)send_what_fits(pair.client, "data", ec);
  }
  EXPECT_TRUE(ec == asio::error::broken_pipe || ec == asio::error::connection_reset)
      << ec.message();
}

TEST(SendWhatFits, TlsStreamIsLeftToTheEngine) {
  asio::io_context io;
  asio::ssl::context context(asio::ssl::context::tls_client);
  TlsStream stream(PlainStream(io), context);
  boost::system::error_code ec;
  EXPECT_EQ(send_what_fits(stream, "bytes", ec), "bytes");
  EXPECT_FALSE(ec);
}

}  // namespace
}  // namespace atls::http
