#pragma once
// The headers that carry a peer's attestation to the other side of the proxy (interop spec
// §7.4): X-Flashbots-Attestation-Type and X-Flashbots-Measurement.
//
// Both are stripped from every message that arrives from an untrusted side before the proxy
// sets its own values, including when the peer did not attest. flashbots forwards a spoofed
// X-Flashbots-Measurement in that case (interop spec §12 quirk 2); here a downstream consumer
// can trust the headers whenever the proxy is in front of it.

#include <string>

#include "http/message.h"
#include "ratls/appraisal.h"

namespace atls::proxy {

inline constexpr std::string_view kMeasurementHeader = "x-flashbots-measurement";
inline constexpr std::string_view kAttestationTypeHeader = "x-flashbots-attestation-type";

/// Removes both attestation headers (any case, every copy); returns how many were removed.
std::size_t strip_attestation_headers(http::Fields& fields);

/// The two header values for one appraised peer. They are the same for every message of a
/// channel, so the proxies compute them once per channel (the measurement JSON is the costly
/// part) rather than per request.
struct AttestationHeaderValues {
  /// X-Flashbots-Attestation-Type: the verified type, or "none".
  std::string type;
  /// X-Flashbots-Measurement (JSON, §7.4); empty when the peer did not attest, and then the
  /// header is not sent.
  std::string measurement;
};

AttestationHeaderValues attestation_header_values(const ratls::PeerAttestation& peer);

/// Sets both headers from `values`; existing copies are removed first.
void set_attestation_headers(http::Fields& fields, const AttestationHeaderValues& values);

/// As above, computing the values from `peer` (one-off messages; a channel keeps its values).
void set_attestation_headers(http::Fields& fields, const ratls::PeerAttestation& peer);

/// The X-Flashbots-Measurement value for verified claims: for the TDX and Azure families the
/// flashbots JSON with decimal register keys; for SEV-SNP the named-field JSON documented in
/// docs/protocol.md.
std::string measurement_header_value(const attest::VerifiedClaims& claims);

}  // namespace atls::proxy
