// BodyPipe: ordering, back-pressure, end/failure, abandonment and flow-control callbacks.
#include "http/body_pipe.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "http/errors.h"

namespace atls::http {
namespace {

namespace asio = boost::asio;

Bytes bytes_of(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

TEST(BodyPipe, DeliversChunksInOrderThenTrailers) {
  asio::io_context io;
  auto pipe = std::make_shared<BodyPipe>();
  std::string received;
  Fields trailers;
  bool ended = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto chunk = co_await pipe->read();
          if (chunk.end) {
            ended = true;
            trailers = pipe->trailers();
            co_return;
          }
          received.append(chunk.data.begin(), chunk.data.end());
        }
      },
      asio::detached);
  io.poll();
  pipe->write(bytes_of("hello "));
  pipe->write(bytes_of("world"));
  pipe->finish(Fields{{"x-sum", "1"}});
  io.run();
  EXPECT_EQ(received, "hello world");
  EXPECT_TRUE(ended);
  EXPECT_EQ(trailers.get("x-sum"), "1");
  EXPECT_TRUE(pipe->at_end());
}

TEST(BodyPipe, ProducerWaitsAboveHighWaterUntilConsumed) {
  asio::io_context io;
  auto pipe = std::make_shared<BodyPipe>(10);
  int produced = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 5; ++i) {
          co_await pipe->wait_writable();
          pipe->write(Bytes(6, 'x'));
          ++produced;
        }
        pipe->finish();
      },
      asio::detached);
  io.poll();
  // 12 bytes queued (above 10): the producer is parked after two writes.
  EXPECT_EQ(produced, 2);
  EXPECT_FALSE(pipe->writable());
  std::array<std::uint8_t, 8> out{};
  EXPECT_EQ(pipe->read_into(out), 8U);
  io.poll();
  EXPECT_GT(produced, 2);
  std::size_t total = 8;
  while (!pipe->at_end()) {
    total += pipe->read_into(out);
    io.poll();
  }
  EXPECT_EQ(total, 30U);
  EXPECT_EQ(produced, 5);
}

TEST(BodyPipe, ConsumedCallbackReportsEveryByteIncludingAbandoned) {
  asio::io_context io;
  BodyPipe pipe;
  std::size_t credited = 0;
  pipe.set_consumed_callback([&](std::size_t n) { credited += n; });
  pipe.write(Bytes(100, 1));
  std::array<std::uint8_t, 30> out{};
  EXPECT_EQ(pipe.read_into(out), 30U);
  EXPECT_EQ(credited, 30U);
  pipe.abandon();  // the 70 dropped bytes are credited too, or a flow-controlled peer stalls
  EXPECT_EQ(credited, 100U);
  EXPECT_TRUE(pipe.consumer_gone());
  pipe.write(Bytes(5, 1));  // ignored after abandonment
  EXPECT_EQ(pipe.buffered(), 0U);
}

TEST(BodyPipe, FailureEndsTheBodyAbnormally) {
  asio::io_context io;
  auto pipe = std::make_shared<BodyPipe>();
  ErrorCode seen;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto first = co_await pipe->read();
        EXPECT_EQ(first.data.size(), 3U);
        auto second = co_await pipe->read();
        seen = second.error;
        EXPECT_FALSE(second.end);
      },
      asio::detached);
  pipe->write(Bytes(3, 7));
  pipe->fail(make_error_code(Errc::BodyTruncated));
  pipe->finish();  // no effect after a failure
  io.run();
  EXPECT_EQ(seen, make_error_code(Errc::BodyTruncated));
  EXPECT_TRUE(pipe->failed());
  EXPECT_FALSE(pipe->at_end());
}

TEST(BodyPipe, ReadableCallbackFiresOnDataAndEnd) {
  asio::io_context io;
  BodyPipe pipe;
  int calls = 0;
  pipe.set_readable_callback([&] { ++calls; });
  pipe.write(Bytes(1, 1));
  pipe.finish();
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace atls::http
