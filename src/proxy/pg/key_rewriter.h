#pragma once
// Rewrites the backend -> client byte stream during start-up (standards.md §5.3, §5.4):
// BackendKeyData, and the SASL mechanism list of AuthenticationSASL.
//
// During start-up the backend sends typed messages (Authentication 'R', ParameterStatus 'S',
// BackendKeyData 'K', NegotiateProtocolVersion 'v', NoticeResponse 'N', ErrorResponse 'E') and
// ends with ReadyForQuery 'Z' (PostgreSQL docs §55.2.1). The client must never learn the real
// (pid, secret key): it would let anyone who reads it cancel queries at the backend directly,
// around the proxy's rules. The rewriter follows message boundaries across arbitrary chunking,
// replaces the key data with proxy-issued values, and becomes a plain pass-through after the
// first ReadyForQuery (a backend sends BackendKeyData only once, before that).
//
// SCRAM channel binding (standards.md §5.3): the backend offers SCRAM-SHA-256-PLUS because ITS
// leg is TLS, but the client's TLS (if any) ends at a proxy, so binding to the backend's
// certificate can never succeed. Worse, libpq refuses a PLUS offer over a plaintext connection
// outright ("server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection"),
// which would break every plaintext loopback client of the proxy-client. The rewriter removes
// every "-PLUS" mechanism from AuthenticationSASL (code 10, PostgreSQL docs §55.7), so clients
// pick SCRAM-SHA-256 and send the gs2 flag 'n', which the backend accepts. Clients on a TLS
// leg (local TLS, direct mode) must set channel_binding=disable (docs/database.md).
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
  /// Called once with the backend's real key data; returns what the client receives instead,
  /// or an error that ends the session (feed() returns it).
  using Issue = std::function<Result<Issued>(std::uint32_t real_pid, ByteView real_key)>;

  explicit KeyRewriter(Issue issue) : issue_(std::move(issue)) {}

  /// Consumes backend bytes and appends what the client must receive to `out`. Errors:
  /// BackendMessageInvalid (a length below 4, or a malformed AuthenticationSASL),
  /// BackendKeyDataInvalid (a K message whose key is not 4..256 bytes, or a second K).
  Result<void> feed(ByteView in, Bytes& out);

  /// The first ReadyForQuery has passed: feed() now copies bytes unchanged.
  bool passthrough() const noexcept { return passthrough_; }
  bool rewrote_key() const noexcept { return rewrote_; }
  /// Number of "-PLUS" SASL mechanisms removed so far.
  std::size_t stripped_mechanisms() const noexcept { return stripped_; }

  /// AuthenticationSASL messages above this body size are passed through unchanged (real ones
  /// list two short names).
  static constexpr std::size_t kMaxBufferedAuth = 1024;

 private:
  Issue issue_;
  std::uint8_t header_[5] = {};
  std::size_t header_have_ = 0;
  std::uint32_t remaining_ = 0;  // body bytes of the current message not yet seen
  bool in_body_ = false;
  std::uint8_t buffering_ = 0;  // 'K' or 'R' while a whole message is collected, else 0
  bool end_after_body_ = false;
  Bytes held_;  // the message being collected, header included
  bool rewrote_ = false;
  std::size_t stripped_ = 0;

  Result<void> emit_key_data(Bytes& out);
  Result<void> emit_authentication(Bytes& out);
  bool passthrough_ = false;
};

}  // namespace atls::proxy::pg
