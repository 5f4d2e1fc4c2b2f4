#include "http/body_pipe.h"

#include <algorithm>
#include <cstring>

namespace atls::http {

BodyPipe::BodyPipe(std::size_t high_water) : high_water_(high_water) {}

void BodyPipe::write(ByteView data) {
  if (data.empty()) {
    return;
  }
  write(Bytes(data.begin(), data.end()));
}

void BodyPipe::write(Bytes&& data) {
  if (data.empty() || abandoned_ || closed()) {
    return;
  }
  buffered_ += data.size();
  total_written_ += data.size();
  chunks_.push_back(std::move(data));
  signal_readable();
}

void BodyPipe::finish(Fields trailers) {
  if (closed()) {
    return;
  }
  finished_ = true;
  trailers_ = std::move(trailers);
  signal_readable();
}

void BodyPipe::fail(ErrorCode error) {
  if (closed()) {
    return;
  }
  error_ = error;
  signal_readable();
  writable_event_.notify();
}

bool BodyPipe::writable() const noexcept {
  return !abandoned_ && !closed() && buffered_ < high_water_;
}

boost::asio::awaitable<void> BodyPipe::wait_writable() {
  while (!abandoned_ && buffered_ >= high_water_ && !closed()) {
    co_await writable_event_.wait();
  }
}

void BodyPipe::set_consumed_callback(std::function<void(std::size_t)> callback) {
  on_consumed_ = std::move(callback);
}

void BodyPipe::set_readable_callback(std::function<void()> callback) {
  on_readable_ = std::move(callback);
}

boost::asio::awaitable<BodyPipe::Chunk> BodyPipe::read() {
  while (!readable()) {
    co_await readable_event_.wait();
  }
  Chunk chunk;
  if (buffered_ > 0) {
    chunk.data = std::move(queue_front());
    queue_pop_front();
    if (front_offset_ > 0) {
      chunk.data.erase(chunk.data.begin(),
                       chunk.data.begin() + static_cast<std::ptrdiff_t>(front_offset_));
      front_offset_ = 0;
    }
    consumed(chunk.data.size());
    co_return chunk;
  }
  chunk.end = finished_;
  chunk.error = error_;
  co_return chunk;
}

std::size_t BodyPipe::read_into(std::span<std::uint8_t> out) {
  std::size_t copied = 0;
  while (copied < out.size() && !queue_empty()) {
    Bytes& front = queue_front();
    const std::size_t take = std::min(out.size() - copied, front.size() - front_offset_);
    std::memcpy(out.data() + copied, front.data() + front_offset_, take);
    copied += take;
    front_offset_ += take;
    if (front_offset_ == front.size()) {
      queue_pop_front();
      front_offset_ = 0;
    }
  }
  if (copied > 0) {
    consumed(copied);
  }
  return copied;
}

void BodyPipe::abandon() {
  if (abandoned_) {
    return;
  }
  abandoned_ = true;
  const std::size_t dropped = buffered_;
  queue_clear();
  front_offset_ = 0;
  buffered_ = 0;
  if (dropped > 0 && on_consumed_) {
    on_consumed_(dropped);  // return the credit so a flow-controlled producer is not stuck
  }
  writable_event_.notify();
}

void BodyPipe::queue_pop_front() {
  chunks_[head_] = Bytes{};  // release the chunk's memory now
  ++head_;
  if (head_ == chunks_.size()) {
    queue_clear();  // keeps the capacity: the next chunk needs no allocation
  } else if (head_ >= kCompactAfter && head_ * 2 >= chunks_.size()) {
    // A pipe that never drains completely (a steady stream) would otherwise grow without
    // bound; moving the live half down keeps pops amortised O(1).
    chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void BodyPipe::queue_clear() noexcept {
  chunks_.clear();
  head_ = 0;
}

void BodyPipe::consumed(std::size_t n) {
  const bool was_full = buffered_ >= high_water_;
  buffered_ -= n;
  if (was_full && buffered_ < high_water_) {
    writable_event_.notify();
  }
  if (on_consumed_) {
    on_consumed_(n);
  }
}

void BodyPipe::signal_readable() {
  readable_event_.notify();
  if (on_readable_) {
    on_readable_();
  }
}

}  // namespace atls::http
