#pragma once
// HTTP/1.1 message syntax (RFC 9112): serialisation of heads and chunked framing. Parsing is
// http/h1_parser's.

#include <cstdint>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "http/message.h"

namespace atls::http {

/// Size of one body read from an HTTP/1.1 connection (server and client side alike).
inline constexpr std::size_t kReadChunk = std::size_t{16} * 1024;

/// A body-read buffer of kReadChunk bytes, allocated on first use and never zero-filled. A read
/// lands here and only the bytes that arrived are copied into the chunk handed on, so a 2-byte
/// body costs a 2-byte allocation instead of a zero-filled 16 KiB one (which, with the page
/// faults it caused, was the largest single cost of a small proxied request: docs/benchmarks.md).
class ReadScratch {
 public:
  std::uint8_t* data() {
    if (!storage_) {
      storage_ = std::make_unique_for_overwrite<std::uint8_t[]>(kReadChunk);
    }
    return storage_.get();
  }
  static constexpr std::size_t size() noexcept { return kReadChunk; }
  /// The first `n` bytes (n <= size()) as a chunk of their own.
  Bytes copy(std::size_t n) const { return Bytes(storage_.get(), storage_.get() + n); }

 private:
  std::unique_ptr<std::uint8_t[]> storage_;
};

/// How a body is delimited on an HTTP/1.1 connection (RFC 9112 §6).
enum class Framing {
  None,            ///< no content
  ContentLength,   ///< exactly content_length bytes
  Chunked,         ///< chunked transfer coding (trailers allowed)
  CloseDelimited,  ///< until the connection closes (HTTP/1.0 responses)
  Tunnel,          ///< raw bytes after 101 / CONNECT
};

/// "METHOD target HTTP/1.1\r\n" + fields + the framing field + "\r\n". `host` is written as the
/// Host field (replacing any in `head.headers`); the request target must be origin-form,
/// authority-form (CONNECT) or "*".
std::string serialize_request_head(const RequestHead& head, std::string_view host, Framing framing);

/// "HTTP/1.1 status reason\r\n" + fields + framing field (+ "connection: close") + "\r\n".
std::string serialize_response_head(const ResponseHead& head, Framing framing, bool close);

/// "<hex size>\r\n"
std::string chunk_header(std::size_t size);
/// "0\r\n" + trailer fields + "\r\n"
std::string last_chunk(const Fields& trailers);

/// Whether a field may be sent in a trailer section (RFC 9110 §6.5.1): framing, routing,
/// authentication and control fields may not.
bool allowed_in_trailers(std::string_view name) noexcept;

}  // namespace atls::http
