#pragma once
// A bounded, single-threaded byte pipe carrying one message body (or one direction of a tunnel)
// from the side that receives it to the side that forwards it.
//
// Memory stays bounded by back-pressure, never by buffering whole bodies: a coroutine producer
// waits in wait_writable() while more than `high_water` bytes are queued; a callback producer
// (an HTTP/2 stream) is flow-controlled by its peer instead and learns about consumption
// through the consumed callback, which is where it returns window credit (RFC 9113 §5.2).
//
// Both ends must run on one io_context thread (a connection's). Not thread-safe.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/async_event.h"
#include "core/bytes.h"
#include "core/error.h"
#include "http/message.h"

namespace atls::http {

class BodyPipe {
 public:
  static constexpr std::size_t kDefaultHighWater = std::size_t{256} * 1024;

  explicit BodyPipe(std::size_t high_water = kDefaultHighWater);
  BodyPipe(const BodyPipe&) = delete;
  BodyPipe& operator=(const BodyPipe&) = delete;

  // ---- producer side ----

  /// Queues bytes (ignored once the consumer has abandoned the pipe or it was closed).
  void write(ByteView data);
  void write(Bytes&& data);
  /// Ends the body normally, with optional trailer fields.
  void finish(Fields trailers = {});
  /// Ends the body abnormally (truncated upstream body, stream reset, ...).
  void fail(ErrorCode error);
  /// Below the high-water mark, still open, and someone still reads.
  bool writable() const noexcept;
  bool closed() const noexcept { return finished_ || error_.failed(); }
  bool consumer_gone() const noexcept { return abandoned_; }
  /// Returns when writable() or the consumer has gone (the producer must check which).
  boost::asio::awaitable<void> wait_writable();
  /// Called with the number of bytes the consumer removed (for flow-control credit).
  void set_consumed_callback(std::function<void(std::size_t)> callback);

  // ---- consumer side ----

  struct Chunk {
    Bytes data;        ///< non-empty unless `end` or `error`
    bool end = false;  ///< the body ended normally (trailers() is valid)
    ErrorCode error;   ///< the body ended abnormally
  };
  /// Waits for the next bytes, the end or the failure of the body.
  boost::asio::awaitable<Chunk> read();
  /// Copies up to `out.size()` queued bytes without waiting; returns the count.
  std::size_t read_into(std::span<std::uint8_t> out);
  /// Bytes, the end, or a failure are available without waiting.
  bool readable() const noexcept { return buffered_ > 0 || closed(); }
  /// All bytes were consumed and the body ended normally.
  bool at_end() const noexcept { return buffered_ == 0 && finished_; }
  bool failed() const noexcept { return error_.failed(); }
  ErrorCode error() const noexcept { return error_; }
  const Fields& trailers() const noexcept { return trailers_; }
  std::size_t buffered() const noexcept { return buffered_; }
  std::uint64_t total_written() const noexcept { return total_written_; }
  /// Called whenever bytes, the end or a failure arrive.
  void set_readable_callback(std::function<void()> callback);
  /// The consumer stops reading: queued bytes are dropped and the producer is told.
  void abandon();

 private:
  void consumed(std::size_t n);
  void signal_readable();
  bool queue_empty() const noexcept { return head_ == chunks_.size(); }
  Bytes& queue_front() noexcept { return chunks_[head_]; }
  void queue_pop_front();
  void queue_clear() noexcept;

  std::size_t high_water_;
  // Queued chunks are chunks_[head_..]. A vector with a moving head, not a std::deque: every
  // request and response has a pipe, and libstdc++'s deque allocates its map and a 512-byte
  // node on construction (two allocations per pipe, even for a body that stays empty).
  std::vector<Bytes> chunks_;
  std::size_t head_ = 0;
  // Consumed slots at the front after which the queue is compacted.
  static constexpr std::size_t kCompactAfter = 32;
  std::size_t front_offset_ = 0;
  std::size_t buffered_ = 0;
  std::uint64_t total_written_ = 0;
  bool finished_ = false;
  bool abandoned_ = false;
  ErrorCode error_;
  Fields trailers_;
  AsyncEvent readable_event_;
  AsyncEvent writable_event_;
  std::function<void(std::size_t)> on_consumed_;
  std::function<void()> on_readable_;
};

using BodyPipePtr = std::shared_ptr<BodyPipe>;

}  // namespace atls::http
