#include "proxy/http/attestation_headers.h"

#include "attest/snp/snp_json.h"

namespace atls::proxy {

std::size_t strip_attestation_headers(http::Fields& fields) {
  return fields.erase(kMeasurementHeader) + fields.erase(kAttestationTypeHeader);
}

std::string measurement_header_value(const attest::VerifiedClaims& claims) {
  if (claims.snp) {
    return attest::snp::measurement_header_json(*claims.snp);
  }
  return attest::measurements_to_json(claims.measurements);
}

AttestationHeaderValues attestation_header_values(const ratls::PeerAttestation& peer) {
  AttestationHeaderValues values;
  values.type = attest::to_string(peer.reported_type());
  if (peer.attested()) {
    values.measurement = measurement_header_value(*peer.claims);
  }
  return values;
}

void set_attestation_headers(http::Fields& fields, const AttestationHeaderValues& values) {
  strip_attestation_headers(fields);
  fields.add(kAttestationTypeHeader, values.type);
  if (!values.measurement.empty()) {
    fields.add(kMeasurementHeader, values.measurement);
  }
}

void set_attestation_headers(http::Fields& fields, const ratls::PeerAttestation& peer) {
  set_attestation_headers(fields, attestation_header_values(peer));
}

}  // namespace atls::proxy
