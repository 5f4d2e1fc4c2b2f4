#pragma once
// Rewrites BackendKeyData in the backend -> client byte stream (standards.md §5.4).
//
// During start-up the backend sends typed messages (Authentication 'R', ParameterStatus 'S',
// BackendKeyData 'K', NegotiateProtocolVersion 'v', NoticeResponse 'N', ErrorResponse 'E') and
// ends with ReadyForQuery 'Z' (PostgreSQL docs §55.2.1). The client must never learn the real
// (pid, secret key): it would let anyone who reads it cancel queries at the backend directly,
// around the proxy's rules. The rewriter follows message boundaries across arbitrary chunking,
// replaces the key data with proxy-issued values, and becomes a plain pass-through after the
// first ReadyForQuery (a backend sends BackendKeyData only once, before that).
//
// Pure (no I/O). Not thread-safe; one per backend connection.

#include <cstdint>
#include <functional>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::proxy::pg {

class KeyRewriter {
 public:
  struct Issued {
    std::uint32_t pid = 0;
    Bytes key;  ///< same length as the real key
  };
  /// Called once with the backend's real key data; returns what the client receives instead.
  using Issue = std::function<Issued(std::uint32_t real_pid, ByteView real_key)>;

  explicit KeyRewriter(Issue issue) : issue_(std::move(issue)) {}

  /// Consumes backend bytes and appends what the client must receive to `out`. Errors:
  /// BackendMessageInvalid (a length below 4), BackendKeyDataInvalid (a K message whose key is
  /// not 4..256 bytes, or a second K).
  Result<void> feed(ByteView in, Bytes& out);

  /// The first ReadyForQuery has passed: feed() now copies bytes unchanged.
  bool passthrough() const noexcept { return passthrough_; }
  bool rewrote_key() const noexcept { return rewrote_; }

 private:
  Issue issue_;
  std::uint8_t header_[5] = {};
  std::size_t header_have_ = 0;
  std::uint32_t remaining_ = 0;  // body bytes of the current message not yet seen
  bool in_body_ = false;
  bool buffering_key_ = false;
  bool end_after_body_ = false;
  Bytes key_message_;
  bool rewrote_ = false;
  bool passthrough_ = false;
};

}  // namespace atls::proxy::pg
