#pragma once
// A byte stream in both directions, whatever carries it: a TCP socket, TLS over TCP, or the two
// BodyPipes of an HTTP/2 CONNECT stream (RFC 9113 §8.5). The pgwire logic (start-up, rules,
// splice) is written once against this interface and serves the attested channel's tunnels,
// direct TLS clients, local clients of the proxy-client and backend connections alike.
//
// Threading: a Duplex lives on one io_context; at most one read and one write may be pending.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <span>

#include "core/bytes.h"
#include "core/error.h"
#include "http/body_pipe.h"
#include "http/stream_util.h"

namespace atls::proxy::pg {

class Duplex {
 public:
  virtual ~Duplex() = default;
  /// Reads at least one byte; 0 means the peer ended its direction (orderly close).
  virtual boost::asio::awaitable<Result<std::size_t>> read_some(std::span<std::uint8_t> out) = 0;
  /// Writes everything, waiting for the other side to drain (back-pressure).
  virtual boost::asio::awaitable<Result<void>> write_all(ByteView data) = 0;
  /// No more writes from us (TCP FIN, END_STREAM, or for TLS a bounded close).
  virtual boost::asio::awaitable<void> shutdown_write() = 0;
  /// Aborts both directions now; pending reads and writes complete with an error.
  virtual void close() noexcept = 0;
};

using DuplexPtr = std::unique_ptr<Duplex>;

/// Reads exactly `out.size()` bytes. Errors: the transport's, or `on_eof` if the peer ends first.
boost::asio::awaitable<Result<void>> read_exact(Duplex& duplex, std::span<std::uint8_t> out,
                                                ErrorCode on_eof);

/// A TCP or TLS stream (http::PlainStream / http::TlsStream).
template <class Stream>
class SocketDuplex final : public Duplex {
 public:
  explicit SocketDuplex(Stream stream) : stream_(std::move(stream)) {}
  boost::asio::awaitable<Result<std::size_t>> read_some(std::span<std::uint8_t> out) override;
  boost::asio::awaitable<Result<void>> write_all(ByteView data) override;
  boost::asio::awaitable<void> shutdown_write() override;
  void close() noexcept override;
  Stream& stream() noexcept { return stream_; }

 private:
  Stream stream_;
  bool write_shut_ = false;
};

/// The client side of a CONNECT stream: `in` carries bytes from the peer (consumer end), `out`
/// bytes to it (producer end).
class PipeDuplex final : public Duplex {
 public:
  PipeDuplex(http::BodyPipePtr in, http::BodyPipePtr out)
      : in_(std::move(in)), out_(std::move(out)) {}
  ~PipeDuplex() override;
  boost::asio::awaitable<Result<std::size_t>> read_some(std::span<std::uint8_t> out) override;
  boost::asio::awaitable<Result<void>> write_all(ByteView data) override;
  boost::asio::awaitable<void> shutdown_write() override;
  void close() noexcept override;

 private:
  http::BodyPipePtr in_;
  http::BodyPipePtr out_;
  Bytes pending_;
  std::size_t pending_offset_ = 0;
};

/// Closes a Duplex when a deadline passes (bounded start-up phases). Cancel by destruction or
/// disarm(). Must not outlive the Duplex.
class Deadline {
 public:
  Deadline(const boost::asio::any_io_executor& executor, Duplex& duplex,
           std::chrono::milliseconds timeout);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  void disarm() noexcept;
  bool expired() const noexcept { return *expired_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> expired_ = std::make_shared<bool>(false);
  std::shared_ptr<bool> armed_ = std::make_shared<bool>(true);
};

/// Copies bytes both ways until both directions ended or one failed; an orderly end of one
/// direction is passed on as shutdown_write() of the other side. `rewrite_backend` (may be
/// null) filters the b -> a direction (BackendKeyData). Returns the first error (empty for a
/// clean end).
class KeyRewriter;
boost::asio::awaitable<ErrorCode> splice(Duplex& a, Duplex& b, KeyRewriter* rewrite_b_to_a);

}  // namespace atls::proxy::pg
