#pragma once
// HTTP/1.1 message parsing (RFC 9112): request heads (request line and fields, §3 and §5) as
// every HTTP/1.1 listener reads them, response heads (status line, §4) as the proxy-server
// reads its target's answers, and the body's framing (§6: Content-Length, chunked transfer
// coding with trailers §7.1, or read-until-close).
//
// Why our own and not Beast's parser: Beast parses into its own field container, which the
// proxy then copied into http::Fields, and its composed read operations wrap every socket read
// in several layers; on a small proxied request those were a measurable share of the
// proxies' CPU (docs/benchmarks.md). This parser fills http::Fields directly from the
// connection's buffer and leaves reading to the caller.
//
// Strictness: what a proxy may not guess at is rejected (the caller answers 400 to a client,
// 502 for a target's response): line folding
// (§5.2 lets a proxy reject it), bare LF line ends, control characters in field values,
// whitespace before a field's colon (§5.1), conflicting or malformed Content-Length values
// (§6.3 rule 5), Transfer-Encoding together with Content-Length or in an HTTP/1.0 message
// (§6.1, §6.3 rule 3: a smuggling signal), and transfer codings other than a final `chunked`
// (the proxy would have to forward a coding it cannot announce any more, because
// Transfer-Encoding is hop-by-hop; for requests §6.1 requires 400 when chunked is not final).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "http/h1_wire.h"
#include "http/message.h"

namespace atls::http::h1 {

enum class ParseStatus {
  Incomplete,  ///< more bytes are needed
  Complete,    ///< a head was parsed; `consumed` bytes belong to it
  Invalid,     ///< malformed; `error` says why
  TooLarge,    ///< the head exceeds the size limit
};

struct HeadParse {
  ParseStatus status = ParseStatus::Incomplete;
  std::size_t consumed = 0;
  /// Static text naming what was malformed (Invalid only).
  std::string_view error;
};

/// A parsed response head and what its fields say about the connection.
struct ParsedResponse {
  ResponseHead head;
  /// Transfer-Encoding ends in `chunked`.
  bool chunked = false;
  /// The connection may carry another message after this one, as far as the head says
  /// (Connection: close, HTTP/1.0 without keep-alive); the body's framing may still forbid it.
  bool keep_alive = true;
};

/// Parses one response head from the start of `data`. `max_bytes` bounds the head including
/// its final empty line. On Complete, `out` holds status, reason, version, the fields in order
/// (names lower-cased) and the Content-Length (head.content_length). `out` is unspecified
/// otherwise.
HeadParse parse_response_head(std::string_view data, std::size_t max_bytes, ParsedResponse& out);

/// A parsed request head.
struct ParsedRequest {
  /// Method, target (origin-form path, "*", or host:port for CONNECT), the authority and
  /// scheme of an absolute-form target, version, fields, Content-Length.
  RequestHead head;
  bool chunked = false;
  /// The client allows another request on this connection (HTTP/1.1 without
  /// Connection: close, or HTTP/1.0 with keep-alive).
  bool keep_alive = true;
};

/// Parses one request head from the start of `data` (empty lines before it are skipped, RFC
/// 9112 §2.2). Besides what parse_response_head rejects, a method that is not a token, a
/// malformed request line or target, and more than one Host field are Invalid.
HeadParse parse_request_head(std::string_view data, std::size_t max_bytes, ParsedRequest& out);

/// How a request's body is delimited (RFC 9112 §6.3): Chunked, ContentLength (non-zero), or
/// None. Upgrades and CONNECT tunnels are the caller's business.
Framing request_framing(const ParsedRequest& request);

/// How the body of `response` to a request with `request_method` is delimited (RFC 9112 §6.3):
/// None for HEAD, 1xx, 204 and 304; Tunnel for 101 and for 2xx to CONNECT; then chunked,
/// Content-Length, or until the connection closes.
Framing response_framing(std::string_view request_method, const ParsedResponse& response);

/// Removes the framing of one body: yields its content bytes and, for chunked bodies, the
/// trailer fields. Push-style and allocation-free on the data path: the content comes back as
/// views into the caller's input.
class BodyDecoder {
 public:
  /// `framing` is ContentLength (with `content_length`), Chunked or CloseDelimited.
  /// `max_trailer_bytes` bounds the trailer section of a chunked body.
  BodyDecoder(Framing framing, std::uint64_t content_length, std::size_t max_trailer_bytes);

  struct Step {
    std::size_t consumed = 0;  ///< input bytes used (framing and content)
    ByteView content;          ///< content bytes, a view into the input (may be empty)
  };

  /// Consumes a prefix of `input`, yielding at most one run of content. Call again with the
  /// rest until it consumes nothing (more input needed) or done() or failed().
  Step next(ByteView input);

  /// The connection ended. Returns whether that was a valid end of the body (only a
  /// close-delimited body ends this way); done() holds afterwards if so.
  bool end_of_input();

  bool done() const noexcept { return state_ == State::Done; }
  bool failed() const noexcept { return state_ == State::Failed; }
  /// Why decoding failed (static text).
  std::string_view error() const noexcept { return error_; }
  /// Trailer fields of a chunked body (valid once done()).
  const Fields& trailers() const noexcept { return trailers_; }
  Fields take_trailers() noexcept { return std::move(trailers_); }

 private:
  enum class State {
    Length,      // Content-Length content
    UntilClose,  // close-delimited content
    ChunkSize,   // hex digits of a chunk-size line
    ChunkExt,    // chunk extensions up to the line's CR
    ChunkSizeLf,
    ChunkData,
    ChunkDataCr,
    ChunkDataLf,
    Trailer,  // trailer section lines, up to the empty line
    Done,
    Failed,
  };
  Step fail(std::string_view why, std::size_t consumed);
  void finish_trailers();

  State state_ = State::Failed;
  std::uint64_t remaining_ = 0;  // content bytes left (Length, ChunkData)
  std::size_t size_digits_ = 0;
  std::size_t ext_bytes_ = 0;
  bool ext_started_ = false;  // a ";" was seen on this chunk-size line
  std::size_t max_trailer_bytes_;
  std::string trailer_text_;
  Fields trailers_;
  std::string_view error_;
};

}  // namespace atls::http::h1
