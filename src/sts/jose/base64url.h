#pragma once
// Base64url without padding (RFC 7515 §2, RFC 4648 §5), the encoding of every JOSE part.
//
// Decoding accepts only the canonical form: each byte string has exactly one encoding, so two
// different texts never decode to the same key, signature or claim set (a token cannot be
// altered in its text and still be "the same" token).

#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::sts::jose {

/// BASE64URL(data), no '=' padding.
std::string base64url_encode(ByteView data);

/// Strict inverse of base64url_encode: only A-Z a-z 0-9 - _, no '=', no whitespace, length
/// % 4 != 1, and the unused low bits of the last character must be zero.
/// Error: jose.base64url_invalid.
Result<Bytes> base64url_decode(std::string_view text);

}  // namespace atls::sts::jose
