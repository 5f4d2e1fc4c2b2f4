#include "proxy/pg/duplex.h"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "proxy/pg/errors.h"
#include "proxy/pg/key_rewriter.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;

asio::awaitable<Result<void>> read_exact(Duplex& duplex, std::span<std::uint8_t> out,
                                         ErrorCode on_eof) {
  std::size_t have = 0;
  while (have < out.size()) {
    auto n = co_await duplex.read_some(out.subspan(have));
    if (!n) {
      co_return n.error();
    }
    if (*n == 0) {
      co_return on_eof;
    }
    have += *n;
  }
  co_return Result<void>{};
}

// ---- SocketDuplex ----

template <class Stream>
asio::awaitable<Result<std::size_t>> SocketDuplex<Stream>::read_some(std::span<std::uint8_t> out) {
  auto [ec, n] =
      co_await stream_.async_read_some(asio::buffer(out.data(), out.size()), http::kUseTuple);
  if (n > 0) {
    co_return n;
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    co_return std::size_t{0};  // many clients close TLS without close_notify
  }
  if (ec) {
    co_return ec;
  }
  co_return std::size_t{0};
}

template <class Stream>
asio::awaitable<Result<void>> SocketDuplex<Stream>::write_all(ByteView data) {
  auto [ec, n] =
      co_await asio::async_write(stream_, asio::buffer(data.data(), data.size()), http::kUseTuple);
  if (ec) {
    co_return ec;
  }
  co_return Result<void>{};
}

template <class Stream>
asio::awaitable<void> SocketDuplex<Stream>::shutdown_write() {
  if (write_shut_) {
    co_return;
  }
  write_shut_ = true;
  // TCP half-close, also under TLS: a close_notify would need SSL_shutdown, whose wait for
  // the peer's answer must not run concurrently with the other direction's read on the same
  // asio ssl::stream. pgwire ends sessions with Terminate ('X') or an ErrorResponse first, so
  // no application data is lost; peers see an EOF without close_notify, as after a crash.
  auto& lowest = boost::beast::get_lowest_layer(stream_);
  boost::system::error_code ignored;
  lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  co_return;
}

template <class Stream>
void SocketDuplex<Stream>::close() noexcept {
  http::abort_stream(stream_);
}

template class SocketDuplex<http::PlainStream>;
template class SocketDuplex<http::TlsStream>;

// ---- PipeDuplex ----

PipeDuplex::~PipeDuplex() {
  // A tunnel dropped without an orderly end is reset, never left half open.
  if (!out_->closed()) {
    out_->fail(make_error_code(Errc::ClientClosed));
  }
  in_->abandon();
}

asio::awaitable<Result<std::size_t>> PipeDuplex::read_some(std::span<std::uint8_t> out) {
  if (pending_offset_ >= pending_.size()) {
    auto chunk = co_await in_->read();
    if (chunk.error) {
      co_return chunk.error;
    }
    if (chunk.data.empty()) {
      co_return std::size_t{0};  // end of the stream (END_STREAM)
    }
    pending_ = std::move(chunk.data);
    pending_offset_ = 0;
  }
  const std::size_t n = std::min(out.size(), pending_.size() - pending_offset_);
  std::memcpy(out.data(), pending_.data() + pending_offset_, n);
  pending_offset_ += n;
  co_return n;
}

asio::awaitable<Result<void>> PipeDuplex::write_all(ByteView data) {
  while (!out_->writable()) {
    if (out_->consumer_gone() || out_->closed()) {
      co_return make_error_code(Errc::ClientClosed);
    }
    co_await out_->wait_writable();
  }
  out_->write(data);
  co_return Result<void>{};
}

asio::awaitable<void> PipeDuplex::shutdown_write() {
  out_->finish();
  co_return;
}

void PipeDuplex::close() noexcept {
  const auto reason = make_error_code(Errc::ClientClosed);
  if (!out_->closed()) {
    out_->fail(reason);
  }
  // Wake a pending read (the pipe's producer is the HTTP/2 session), then stop reading.
  in_->fail(reason);
  in_->abandon();
}

// ---- Deadline ----

Deadline::Deadline(const asio::any_io_executor& executor, Duplex& duplex,
                   std::chrono::milliseconds timeout)
    : timer_(executor, timeout) {
  timer_.async_wait([&duplex, expired = expired_, armed = armed_](boost::system::error_code ec) {
    if (!ec && *armed) {
      *expired = true;
      duplex.close();
    }
  });
}

Deadline::~Deadline() {
  disarm();
}

void Deadline::disarm() noexcept {
  *armed_ = false;
  timer_.cancel();
}

// ---- splice ----

namespace {

constexpr std::size_t kSpliceBuffer = std::size_t{64} * 1024;

struct SpliceState {
  ErrorCode first_error;
  void note(ErrorCode ec) {
    if (ec && !first_error) {
      first_error = ec;
    }
  }
};

asio::awaitable<void> pump(Duplex& from, Duplex& to, KeyRewriter* rewriter, SpliceState& state) {
  std::vector<std::uint8_t> buffer(kSpliceBuffer);
  Bytes rewritten;
  for (;;) {
    auto n = co_await from.read_some(buffer);
    if (!n) {
      state.note(n.error());
      from.close();
      to.close();
      co_return;
    }
    if (*n == 0) {
      co_await to.shutdown_write();
      co_return;
    }
    ByteView chunk(buffer.data(), *n);
    if (rewriter != nullptr && !rewriter->passthrough()) {
      rewritten.clear();
      if (auto fed = rewriter->feed(chunk, rewritten); !fed) {
        state.note(fed.error());
        from.close();
        to.close();
        co_return;
      }
      chunk = rewritten;
      if (chunk.empty()) {
        continue;
      }
    }
    auto written = co_await to.write_all(chunk);
    if (!written) {
      // `to` takes no more bytes, but what it already sent the other way must still arrive: a
      // proxy-server that refused a session (FATAL, then END_STREAM) also stops reading the
      // request side of the stream. The other pump ends on its own (EOF or error).
      state.note(written.error());
      co_return;
    }
  }
}

}  // namespace

asio::awaitable<ErrorCode> splice(Duplex& a, Duplex& b, KeyRewriter* rewrite_b_to_a) {
  using namespace asio::experimental::awaitable_operators;
  SpliceState state;
  // Named, then moved: see the GCC 12 note in core/offload.h.
  auto up = pump(a, b, nullptr, state);
  auto down = pump(b, a, rewrite_b_to_a, state);
  co_await (std::move(up) && std::move(down));
  co_return state.first_error;
}

}  // namespace atls::proxy::pg
