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

void set_attestation_headers(http::Fields& fields, const ratls::PeerAttestation& peer) {
  strip_attestation_headers(fields);
  fields.add(kAttestationTypeHeader, attest::to_string(peer.reported_type()));
  if (peer.attested()) {
    fields.add(kMeasurementHeader, measurement_header_value(*peer.claims));
  }
}

}  // namespace atls::proxy
