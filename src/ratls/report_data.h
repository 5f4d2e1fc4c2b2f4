#pragma once
// The 64 bytes every attestation binds (interop spec §3.1):
//
//   bytes  0..31  SHA-256(subjectPublicKey BIT STRING contents of the attester's TLS leaf),
//                 or zeros when the attester presented no certificate (§3.2)
//   bytes 32..63  TLS exporter, label "EXPORTER-Channel-Binding", no context, 32 bytes

#include <openssl/ssl.h>

#include <array>
#include <cstdint>

#include "attest/claims.h"
#include "core/error.h"

namespace atls::ratls {

using Digest32 = std::array<std::uint8_t, 32>;

/// SHA-256 of the subjectPublicKey BIT STRING contents (without the unused-bits octet) of
/// `cert`: for EC keys the encoded point, for RSA the DER RSAPublicKey. Zeros for null.
Digest32 public_key_hash(const X509* cert);

/// RFC 8446 §7.5 exporter; in TLS 1.3 an absent and an empty context give the same value, so
/// OpenSSL's "no context" output matches rustls'. Error: ExporterFailed.
Result<Digest32> export_channel_binding(SSL* ssl);

attest::ReportData make_report_data(const Digest32& key_hash, const Digest32& exporter);

}  // namespace atls::ratls
