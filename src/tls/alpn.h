#pragma once
// Generic ALPN helpers (RFC 7301).

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace atls::tls {

/// ALPN wire format: each protocol prefixed by its one-byte length (RFC 7301 §3.1).
/// Protocols must be 1..255 bytes.
Bytes alpn_wire(std::span<const std::string> protocols);

/// Server-preference selection: the first entry of `server_preference` that the client offered.
/// `client_offer` is in wire format; a malformed offer yields nullopt.
std::optional<std::string> select_alpn(std::span<const std::string> server_preference,
                                       ByteView client_offer);

}  // namespace atls::tls
