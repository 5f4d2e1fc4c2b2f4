#pragma once
// pgwire start-up phase (PostgreSQL documentation §55.2 "Message Flow – Start-up" and §55.7
// "Message Formats"; summary in standards.md §5.1): the untyped packets a client sends first
// (Int32 length that includes itself, then an Int32 code), and the few typed messages the proxy
// writes itself (ErrorResponse) or must understand (BackendKeyData).
//
// Everything here is pure: no I/O. Parsers check every length before reading, never throw and
// report a named pg.* error.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::proxy::pg {

/// Bounds of a start-up packet, length field included. PostgreSQL's MAX_STARTUP_PACKET_LENGTH
/// is 10000 (src/include/libpq/pqcomm.h); 8 is the smallest (length + code).
inline constexpr std::size_t kMinStartupLength = 8;
inline constexpr std::size_t kMaxStartupLength = 10000;

/// Request codes: major 1234 with a magic minor (pqcomm.h).
inline constexpr std::uint32_t kCancelRequestCode = (1234U << 16) | 5678U;
inline constexpr std::uint32_t kSslRequestCode = (1234U << 16) | 5679U;
inline constexpr std::uint32_t kGssEncRequestCode = (1234U << 16) | 5680U;

/// Cancel keys: 4 bytes under protocol 3.0, up to 256 bytes under 3.2 (PostgreSQL 18).
inline constexpr std::size_t kMinCancelKey = 4;
inline constexpr std::size_t kMaxCancelKey = 256;

/// The first byte of a TLS handshake record (RFC 8446 §5.1): a PostgreSQL 17 client that uses
/// direct TLS (sslnegotiation=direct) starts with its ClientHello instead of a length.
inline constexpr std::uint8_t kTlsHandshakeRecord = 0x16;

struct SslRequest {};
struct GssEncRequest {};

struct CancelRequest {
  std::uint32_t pid = 0;
  Bytes key;  ///< 4..256 bytes
};

struct StartupMessage {
  std::uint16_t major = 3;
  std::uint16_t minor = 0;
  /// Name/value pairs in wire order (names unique, non-empty).
  std::vector<std::pair<std::string, std::string>> parameters;

  std::optional<std::string_view> get(std::string_view name) const;
  /// The `user` parameter (required, so present after a successful parse).
  std::string_view user() const;
  /// The `database` parameter, which defaults to the user name (§55.7 StartupMessage).
  std::string_view database() const;
  /// `replication=true|on|yes|1`: a physical replication connection (matched by the HBA
  /// keyword `replication`); `replication=database` is logical and matches by database name.
  bool physical_replication() const;
};

using StartupPacket = std::variant<SslRequest, GssEncRequest, CancelRequest, StartupMessage>;

/// Validates the 4-byte big-endian length prefix of a start-up packet and returns it (the
/// whole packet's length). Errors: PacketTruncated (fewer than 4 bytes), PacketTooShort,
/// PacketTooLong.
Result<std::uint32_t> parse_startup_length(ByteView prefix);

/// Parses one whole start-up packet (length prefix included; `packet.size()` must equal the
/// length it declares). Strict: SSLRequest/GSSENCRequest exactly 8 bytes, CancelRequest 16..268,
/// StartupMessage of protocol major 3 with NUL-terminated, unique, non-empty names, a final NUL
/// and nothing after it, and a `user`. Errors: any pg.* packet error.
Result<StartupPacket> parse_startup_packet(ByteView packet);

Bytes encode_ssl_request();
Bytes encode_gssenc_request();
Bytes encode_cancel_request(std::uint32_t pid, ByteView key);
Bytes encode_startup_message(const StartupMessage& message);

/// SQLSTATE codes the proxy reports (PostgreSQL Appendix A).
inline constexpr std::string_view kSqlstateInvalidAuthorization = "28000";
inline constexpr std::string_view kSqlstateProtocolViolation = "08P01";
inline constexpr std::string_view kSqlstateConnectionFailure = "08006";
inline constexpr std::string_view kSqlstateCannotConnectNow = "57P03";

/// ErrorResponse ('E', §55.7): fields S and V (severity), C (SQLSTATE), M (message), and D
/// (detail) when non-empty. Strings are cut at the first NUL (a cstring cannot carry one).
Bytes encode_error_response(std::string_view severity, std::string_view sqlstate,
                            std::string_view message, std::string_view detail = {});

/// The fields of an ErrorResponse or NoticeResponse body (for tests and logs).
struct ErrorFields {
  std::string severity;
  std::string sqlstate;
  std::string message;
  std::string detail;
};
/// Parses a whole ErrorResponse message (type byte included). Errors: BackendMessageInvalid.
Result<ErrorFields> parse_error_response(ByteView message);

/// Big-endian helpers.
std::uint32_t load_u32(const std::uint8_t* p) noexcept;
void append_u32(Bytes& out, std::uint32_t value);

}  // namespace atls::proxy::pg
