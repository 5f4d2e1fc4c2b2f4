// OriginPool: keep-alive reuse of target connections and the one retry of the keep-alive race
// (RFC 9112 §9.3.1: a client may resend an idempotent request without content when the
// server closed a reused connection before answering), against a scripted raw-TCP target.
#include "proxy/http/origin_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <vector>

#include "http/errors.h"
#include "http/stream_util.h"

namespace atls::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A target that answers exactly one request per connection and then closes it without saying
// so (no `Connection: close`), as a server does when its keep-alive timeout fires just as the
// proxy reuses the connection. Each request's head is recorded per connection.
class OneShotTarget {
 public:
  explicit OneShotTarget(asio::io_context& io)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  const std::vector<std::string>& heads() const { return heads_; }
  void stop() { acceptor_.close(); }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(http::kUseTuple);
      if (ec) {
        co_return;
      }
      const std::size_t index = heads_.size();
      heads_.emplace_back();
      std::string buffer;
      auto [read_ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer),
                                                          "\r\n\r\n", http::kUseTuple);
      if (read_ec) {
        continue;
      }
      heads_[index] = buffer.substr(0, n);
      const std::string body = "c" + std::to_string(index + 1);
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      co_await asio::async_write(socket, asio::buffer(response), http::kUseTuple);
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  }

  tcp::acceptor acceptor_;
  std::vector<std::string> heads_;
};

struct ExchangeResult {
  int status = 0;
  std::string body;
  std::optional<Failure> failure;
};

asio::awaitable<ExchangeResult> send(OriginPool* pool, http::RequestHead request,
                                     std::string request_body) {
  auto executor = co_await asio::this_coro::executor;
  auto body = std::make_shared<http::BodyPipe>();
  if (!request_body.empty()) {
    body->write(Bytes(request_body.begin(), request_body.end()));
  }
  body->finish();
  http::InformationalHandler no_interim;
  auto response = co_await pool->send(std::move(request), body, std::move(no_interim));
  ExchangeResult result;
  if (!response) {
    result.failure = response.error();
    co_return result;
  }
  result.status = response->head.status;
  if (response->body) {
    for (;;) {
      auto chunk = co_await response->body->read();
      if (chunk.end) {
        break;
      }
      result.body.append(chunk.data.begin(), chunk.data.end());
    }
  }
  co_return result;
}

http::RequestHead get(std::string target) {
  http::RequestHead request;
  request.method = "GET";
  request.target = std::move(target);
  request.headers.add("x-test", "keep-me");
  return request;
}

class OriginPoolTest : public ::testing::Test {
 protected:
  OriginPoolTest() : target_(io_) {
    OriginOptions options;
    options.target = net::HostPort{"127.0.0.1", target_.port()};
    pool_ = std::make_unique<OriginPool>(options);
  }

  // Runs one request to completion, then lets the target's close reach the pool's socket.
  ExchangeResult run(http::RequestHead request, std::string body = {}) {
    std::optional<ExchangeResult> result;
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          result = co_await send(pool_.get(), std::move(request), std::move(body));
          asio::steady_timer settle(io_, std::chrono::milliseconds(20));
          co_await settle.async_wait(http::kUseTuple);
          done = true;
        },
        asio::detached);
    io_.restart();
    // The target's accept loop keeps the context busy: run until this exchange is over.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(result.has_value());
    return result.value_or(ExchangeResult{});
  }

  void TearDown() override {
    target_.stop();
    io_.restart();
    io_.poll();
  }

  asio::io_context io_;
  OneShotTarget target_;
  std::unique_ptr<OriginPool> pool_;
};

TEST_F(OriginPoolTest, ResendsRequestWithoutBodyWhenReusedConnectionWasClosed) {
  const auto first = run(get("/first"));
  ASSERT_FALSE(first.failure) << first.failure->describe();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "c1");

  // The pool reuses connection 1, which the target has closed: the same request, complete
  // with its fields, goes out again on a new connection.
  const auto second = run(get("/second?q=1"));
  ASSERT_FALSE(second.failure) << second.failure->describe();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, "c2");
  ASSERT_EQ(target_.heads().size(), 2u);
  EXPECT_NE(target_.heads()[1].find("GET /second?q=1 HTTP/1.1\r\n"), std::string::npos)
      << target_.heads()[1];
  EXPECT_NE(target_.heads()[1].find("x-test: keep-me\r\n"), std::string::npos)
      << target_.heads()[1];
}

TEST_F(OriginPoolTest, DoesNotResendRequestWithBody) {
  ASSERT_FALSE(run(get("/first")).failure);
  // A request with content may have been processed (RFC 9112 §9.3.1): the error is reported,
  // nothing is sent twice.
  http::RequestHead post;
  post.method = "POST";
  post.target = "/upload";
  post.has_body = true;
  post.content_length = 5;
  const auto result = run(std::move(post), "hello");
  ASSERT_TRUE(result.failure.has_value());
  EXPECT_EQ(result.failure->code, make_error_code(http::Errc::ConnectionClosed));
  EXPECT_EQ(target_.heads().size(), 1u);
}

// A target that keeps connections alive and answers each request with the number of the
// connection it came on ("c1", "c2", ...).
class KeepAliveTarget {
 public:
  explicit KeepAliveTarget(asio::io_context& io)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t connections() const { return connections_; }
  void stop() { acceptor_.close(); }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(http::kUseTuple);
      if (ec) {
        co_return;
      }
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket), ++connections_),
                     asio::detached);
    }
  }
  static asio::awaitable<void> serve(tcp::socket socket, std::size_t number) {
    std::string buffer;
    for (;;) {
      auto [read_ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer),
                                                          "\r\n\r\n", http::kUseTuple);
      if (read_ec) {
        co_return;
      }
      buffer.erase(0, n);
      const std::string body = "c" + std::to_string(number);
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      auto [write_ec, written] =
          co_await asio::async_write(socket, asio::buffer(response), http::kUseTuple);
      if (write_ec) {
        co_return;
      }
    }
  }

  tcp::acceptor acceptor_;
  std::size_t connections_ = 0;
};

TEST(OriginPoolReuse, FreedConnectionsAreReusedMostRecentFirstAndIdleOnesBounded) {
  asio::io_context io;
  KeepAliveTarget target(io);
  OriginOptions options;
  options.target = net::HostPort{"127.0.0.1", target.port()};
  options.max_idle = 2;
  OriginPool pool(options);

  // Runs `count` requests at once until all have their whole response.
  auto run_concurrently = [&](std::size_t count) {
    std::vector<ExchangeResult> results(count);
    std::size_t done = 0;
    for (std::size_t i = 0; i < count; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            results[i] = co_await send(&pool, get("/"), {});
            ++done;
          },
          asio::detached);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (done < count && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(done, count);
    return results;
  };

  const auto first = run_concurrently(3);
  std::vector<std::string> bodies;
  for (const auto& result : first) {
    ASSERT_FALSE(result.failure) << result.failure->describe();
    bodies.push_back(result.body);
  }
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"c1", "c2", "c3"}));
  // Three connections were freed; beyond max_idle the oldest one was closed.
  EXPECT_EQ(pool.idle_connections(), 2U);

  // Sequential requests reuse one kept-alive connection: no new connection is opened.
  const auto again = run_concurrently(1);
  const auto once_more = run_concurrently(1);
  ASSERT_FALSE(again[0].failure);
  ASSERT_FALSE(once_more[0].failure);
  EXPECT_EQ(again[0].body, once_more[0].body);
  EXPECT_EQ(target.connections(), 3U);
  EXPECT_EQ(pool.idle_connections(), 2U);
  target.stop();
}

}  // namespace
}  // namespace atls::proxy
