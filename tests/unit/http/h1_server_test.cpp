// serve_h1's answers to heads it cannot serve, over a real loopback connection: the status, a
// body that names the reason, and a close that does not turn into a reset while the client is
// still sending (RFC 9112 §9.6).
#include "http/h1_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

#include "http/stream_util.h"

namespace atls::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Accepts one connection on 127.0.0.1 and serves it with serve_h1 on a thread of its own; the
// handler answers 200 (it must never run for the refused heads below).
class OneConnectionServer {
 public:
  explicit OneConnectionServer(H1ServerOptions options)
      : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    asio::co_spawn(
        io_,
        [this, options]() -> asio::awaitable<void> {
          auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
          if (ec) {
            co_return;
          }
          PlainStream stream(std::move(socket));
          boost::beast::flat_buffer buffer;
          RequestHandler handler = [this](ServerExchangePtr exchange) -> asio::awaitable<void> {
            handler_ran_ = true;
            auto ok = make_text_response(200, "ok\n");
            exchange->send_response(std::move(ok.head), std::move(ok.body));
            co_return;
          };
          co_await serve_h1(stream, buffer, asio::ip::address_v4::loopback(), std::move(handler),
                            options);
        },
        asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OneConnectionServer() {
    io_.stop();
    thread_.join();
  }
  OneConnectionServer(const OneConnectionServer&) = delete;
  OneConnectionServer& operator=(const OneConnectionServer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool handler_ran() const { return handler_ran_; }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> handler_ran_{false};
  std::thread thread_;
};

// Sends `request` (blocking), then reads until the server closes. A reset instead of a close
// fails the test, while sending or while reading: the answer must survive unread client bytes.
std::string exchange_raw(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(request), ec);
  EXPECT_FALSE(ec) << "sending: " << ec.message();
  std::string response;
  asio::read(socket, asio::dynamic_buffer(response), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  return response;
}

TEST(H1Server, MalformedHeadGets400NamingTheReason) {
  OneConnectionServer server({});
  const std::string response =
      exchange_raw(server.port(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 400 ")) << response;
  EXPECT_NE(response.find("\r\ncontent-type: text/plain"), std::string::npos) << response;
  EXPECT_TRUE(response.ends_with("\r\n\r\nBad Request: more than one Host field\n")) << response;
  EXPECT_FALSE(server.handler_ran());
}

TEST(H1Server, OversizedHeadGets431EvenWhileTheClientKeepsSending) {
  H1ServerOptions options;
  options.max_header_bytes = 1024;
  OneConnectionServer server(options);
  // Far more than the limit and than loopback's socket buffers: the server stops reading at
  // the limit and answers while this client is still sending. A plain close would reset the
  // connection under the client's write; the lingering close reads the rest and then closes.
  const std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(std::size_t{16} << 20, 'a') + "\r\n\r\n";
  const std::string response = exchange_raw(server.port(), request);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 431 ")) << response.substr(0, 200);
  EXPECT_TRUE(response.ends_with("\r\n\r\nRequest Header Fields Too Large\n"))
      << response.substr(0, 200);
  EXPECT_FALSE(server.handler_ran());
}

}  // namespace
}  // namespace atls::http
