#pragma once
// ECDSA signature encodings. OpenSSL signs and verifies the DER ECDSA-Sig-Value of RFC 3279
// §2.2.3; JWS (RFC 7518 §3.4), Intel quotes (verification.md §1.3) and SEV-SNP reports carry the
// fixed-width "raw" form r || s instead. Every converter in the project goes through these two.

#include <cstddef>

#include "core/bytes.h"

namespace atls::tls {

/// DER of the signature whose components are the big-endian integers `r` and `s` (any width;
/// leading zeros allowed). Empty when OpenSSL fails (allocation).
Bytes ecdsa_der_from_components(ByteView r, ByteView s);

/// The raw form of a DER signature: r || s, each big-endian and left-padded to `width` bytes
/// (32 for P-256, 48 for P-384). Empty when `der` is not one ECDSA-Sig-Value or a component
/// does not fit in `width` bytes.
Bytes ecdsa_raw_from_der(ByteView der, std::size_t width);

}  // namespace atls::tls
