#pragma once
// OpenSSL helpers shared by the TDX verifier, the collateral parsers and the mock PKI: PEM
// chains, CRLs in the encodings Intel services use, raw ECDSA P-256 keys and signatures
// (verification.md §1.1 items 1-2, §1.5), time conversion.
//
// All functions are pure (no I/O, no clock) and thread-safe.

#include <openssl/x509.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::tdx {

using X509CrlPtr = std::unique_ptr<X509_CRL, tls::OsslDeleter<X509_CRL_free>>;
using Sha256 = Sha256Digest;  // atls::sha256 (core/digest.h) computes it

/// Parses concatenated PEM certificates. Trailing NULs and whitespace are ignored; anything else
/// that is not a CERTIFICATE block fails. `error` is the code reported on failure.
Outcome<std::vector<tls::X509Ptr>> parse_pem_chain(std::string_view pem, ErrorCode error);

/// DER of a certificate (empty on failure).
Bytes certificate_der(X509* cert);

/// Decodes a CRL given as DER, PEM ("-----BEGIN X509 CRL-----") or hex of the DER (PCCS serves
/// the root CA CRL hex-encoded). Returns the DER bytes; tdx.crl_malformed otherwise.
Outcome<Bytes> decode_crl_bytes(ByteView data);

/// Parses DER CRL bytes (all bytes must be consumed). tdx.crl_malformed otherwise.
Outcome<X509CrlPtr> parse_crl_der(ByteView der);

/// Imports a raw uncompressed P-256 public key X||Y (64 bytes). nullptr when the bytes are not a
/// point on the curve.
tls::EvpPkeyPtr p256_key_from_raw(ByteView xy);

/// Verifies an ECDSA P-256/SHA-256 signature given as raw r||s (64 bytes, big-endian halves)
/// over `message`. False on any failure, including malformed inputs.
bool verify_p256_raw(EVP_PKEY* key, ByteView message, ByteView signature_rs);

/// Converts an ASN1_TIME to a SystemTime (nullopt when unrepresentable).
std::optional<SystemTime> asn1_time_to_system(const ASN1_TIME* time);

/// Parses an RFC 3339 timestamp as Intel collateral uses it ("2025-06-19T10:16:03Z"; fractional
/// seconds and numeric offsets are accepted too).
std::optional<SystemTime> parse_rfc3339(std::string_view text);

/// "2025-06-19T10:16:03Z".
std::string format_rfc3339(SystemTime time);

/// The subject CN of a certificate ("" when absent).
std::string common_name(const X509_NAME* name);

}  // namespace atls::attest::tdx
