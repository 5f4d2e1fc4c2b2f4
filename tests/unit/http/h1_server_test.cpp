// serve_h1 over a real loopback connection: its answers to heads it cannot serve (the status,
// a body that names the reason, and a close that does not turn into a reset while the client
// is still sending, RFC 9112 §9.6), and what a drain does to idle and busy connections.
#include "http/h1_server.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>
#include <string_view>
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

// Reads from `socket` until `response` ends with `suffix` (or the connection ends).
void read_until_suffix(tcp::socket& socket, std::string& response, std::string_view suffix) {
  while (!response.ends_with(suffix)) {
    std::array<char, 4096> chunk{};
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(chunk), ec);
    if (ec) {
      return;
    }
    response.append(chunk.data(), n);
  }
}

// Connects to `server`, sends `bytes` (a request, maybe followed by the start of the next),
// reads the first answer, then starts draining; returns the connection.
tcp::socket answer_one_then_drain(asio::io_context& io, const OneConnectionServer& server,
                                  DrainSignal& drain, std::string_view bytes) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), server.port()));
  asio::write(socket, asio::buffer(bytes));
  std::string first;
  read_until_suffix(socket, first, "\r\n\r\nok\n");
  EXPECT_TRUE(first.starts_with("HTTP/1.1 200 ")) << first;
  drain.start();
  return socket;
}

// Reads until the server closes; anything but a clean close fails the test.
std::string read_to_close(tcp::socket& socket) {
  std::string rest;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(rest), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  return rest;
}

TEST(H1Server, DrainAnswersARequestWhoseHeadIsStillArriving) {
  H1ServerOptions options;
  options.drain = std::make_shared<DrainSignal>();
  OneConnectionServer server(options);
  asio::io_context io;
  // One write: a whole request and the start of the next, so the server holds the partial
  // second head once it has answered the first.
  tcp::socket socket =
      answer_one_then_drain(io, server, *options.drain,
                            "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n");
  // Give a (wrong) idle cancellation time to run before the head completes.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  asio::write(socket, asio::buffer(std::string_view("\r\n")));
  const std::string second = read_to_close(socket);
  EXPECT_TRUE(second.starts_with("HTTP/1.1 200 ")) << second;
  EXPECT_NE(second.find("\r\nconnection: close\r\n"), std::string::npos) << second;
  EXPECT_TRUE(second.ends_with("\r\n\r\nok\n")) << second;
}

TEST(H1Server, DrainClosesAConnectionWaitingIdleForItsNextRequest) {
  H1ServerOptions options;
  options.drain = std::make_shared<DrainSignal>();
  OneConnectionServer server(options);
  asio::io_context io;
  tcp::socket socket =
      answer_one_then_drain(io, server, *options.drain, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(read_to_close(socket), "");
}

}  // namespace
}  // namespace atls::http
