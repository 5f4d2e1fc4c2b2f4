// BodyPipe: ordering, back-pressure, end/failure, abandonment and flow-control callbacks.
#include "http/body_pipe.h"

#include <gtest/gtest.h>

#include <array>
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

// A pipe that never drains completely (a steady stream, the producer always a few chunks
// ahead) keeps its order across the queue's internal compaction, for whole-chunk reads and
// partial read_into() copies alike, and its byte count stays exact.
TEST(BodyPipe, SteadyStreamKeepsOrderAcrossQueueCompaction) {
  asio::io_context io;
  BodyPipe pipe(std::size_t{1} << 20);
  std::uint8_t next_written = 0;
  std::uint8_t next_expected = 0;
  std::size_t written = 0;
  auto write_chunk = [&](std::size_t size) {
    Bytes chunk(size);
    for (auto& byte : chunk) {
      byte = next_written++;
    }
    written += size;
    pipe.write(std::move(chunk));
  };
  // About 40 chunks stay queued throughout: each round adds one chunk and takes about one
  // chunk's worth, so the consumed front grows past the compaction threshold many times
  // without the queue ever emptying.
  for (int i = 0; i < 40; ++i) {
    write_chunk(3);
  }
  std::size_t read = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t size = 1 + static_cast<std::size_t>(round % 5);
    write_chunk(size);
    Bytes got;
    if (round % 2 == 0) {
      std::array<std::uint8_t, 5> out{};  // as many bytes as just written: often splits chunks
      const std::size_t n = pipe.read_into(std::span<std::uint8_t>(out.data(), size));
      got.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    } else {
      bool done = false;
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            auto chunk = co_await pipe.read();  // the rest of the front chunk
            got = std::move(chunk.data);
            done = true;
          },
          asio::detached);
      io.restart();
      io.run();
      ASSERT_TRUE(done);
    }
    ASSERT_FALSE(got.empty());
    for (const auto byte : got) {
      ASSERT_EQ(byte, next_expected++) << "round " << round;
    }
    read += got.size();
    ASSERT_EQ(pipe.buffered(), written - read);
    ASSERT_GT(pipe.buffered(), 0U);
  }
  std::array<std::uint8_t, 4096> rest{};
  const std::size_t n = pipe.read_into(rest);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(rest[i], next_expected++);
  }
  EXPECT_EQ(read + n, written);
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
