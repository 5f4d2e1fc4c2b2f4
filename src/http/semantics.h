#pragma once
// Message semantics shared by the HTTP/1.1 and HTTP/2 sides of the proxy.

#include <string>
#include <string_view>

#include "http/message.h"

namespace atls::http {

/// Removes the connection-specific fields a proxy must not forward (RFC 9110 §7.6.1; HTTP/2
/// forbids them outright, RFC 9113 §8.2.2): Connection and every field it lists,
/// Proxy-Connection, Keep-Alive, Transfer-Encoding, Upgrade and TE. `te: trailers` survives
/// (it is end-to-end information HTTP/2 allows), as a single normalised field.
void strip_connection_fields(Fields& fields);

/// An HTTP/1.1 WebSocket opening handshake request (RFC 6455 §4.1): GET with
/// `Upgrade: websocket` and `Connection: upgrade`.
bool is_websocket_upgrade(const RequestHead& request);

/// An RFC 8441 extended CONNECT for WebSocket (:method CONNECT, :protocol websocket).
bool is_websocket_connect(const RequestHead& request);

/// A plain HTTP/2 CONNECT tunnel request (RFC 9113 §8.5): CONNECT without :protocol.
bool is_tunnel_connect(const RequestHead& request);

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64(SHA-1(key ||
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string websocket_accept(std::string_view key);

/// A fresh random Sec-WebSocket-Key (16 random bytes, base64).
std::string make_websocket_key();

/// Whether `name` is a field-name token and `value` a valid field value (RFC 9110 §5.1, §5.5:
/// no CR, LF or NUL; no leading/trailing whitespace). The proxy drops invalid fields before
/// re-serialising a message, so a field can never smuggle another one into HTTP/1.1.
bool is_valid_field(std::string_view name, std::string_view value) noexcept;

/// Removes every field that is_valid_field() rejects; returns how many were removed.
std::size_t drop_invalid_fields(Fields& fields);

/// Whether a response to `method` with `status` can carry content (RFC 9110 §6.4.1): not for
/// HEAD, 1xx, 204, 304, or a 2xx answer to CONNECT.
bool response_has_content(std::string_view method, int status) noexcept;

/// Reason phrase for a status code ("OK", "Bad Gateway", ...; "" if unknown).
std::string_view reason_phrase(int status) noexcept;

}  // namespace atls::http
