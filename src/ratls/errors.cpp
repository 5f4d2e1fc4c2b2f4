#include "ratls/errors.h"

#include <array>

namespace atls::ratls {
namespace {

constexpr std::array kTable{
    errc_row(Errc::NotTls13, "not_tls13", "negotiated TLS version is not 1.3"),
    errc_row(Errc::AlpnMissing, "alpn_missing",
             "peer did not negotiate the flashbots-ratls ALPN protocol"),
    errc_row(Errc::NoPeerCertificate, "no_peer_certificate", "server presented no certificate"),
    errc_row(Errc::FrameTooLarge, "frame_too_large", "attestation frame exceeds 65536 bytes"),
    errc_row(Errc::FrameTruncated, "frame_truncated",
             "connection ended inside an attestation frame"),
    errc_row(Errc::CompactInvalid, "compact_invalid",
             "invalid SCALE compact length (big-integer mode)"),
    errc_row(Errc::CompactNonMinimal, "compact_non_minimal",
             "SCALE compact length is not minimally encoded"),
    errc_row(Errc::FieldOverrun, "field_overrun",
             "SCALE field length runs past the end of the frame"),
    errc_row(Errc::TrailingBytes, "trailing_bytes",
             "unexpected bytes after the attestation message"),
    errc_row(Errc::UnknownAttestationType, "unknown_attestation_type",
             "unknown attestation type string"),
    errc_row(Errc::AttestationTypeNotAccepted, "attestation_type_not_accepted",
             "peer's attestation type is not accepted by the policy"),
    errc_row(Errc::AttestationGivenWhenNoneExpected, "attestation_given_when_none_expected",
             "attestation type none carries evidence"),
    errc_row(Errc::AttestationTypeNotSupported, "attestation_type_not_supported",
             "no verifier for the peer's attestation type"),
    errc_row(Errc::MeasurementsNotAccepted, "measurements_not_accepted",
             "peer's measurements match no policy record"),
    errc_row(Errc::TcbStatusNotAccepted, "tcb_status_not_accepted",
             "the platform's TCB status is not accepted by policy"),
    errc_row(Errc::HandshakeTimeout, "handshake_timeout", "TLS handshake timed out"),
    errc_row(Errc::ExchangeTimeout, "exchange_timeout",
             "attestation exchange timed out waiting for the peer"),
    errc_row(Errc::AttestationTimeout, "attestation_timeout",
             "local evidence generation or verification timed out"),
    errc_row(Errc::ExporterFailed, "exporter_failed", "TLS keying material exporter failed"),
    errc_row(Errc::PeerClosed, "peer_closed",
             "peer closed the connection during the attestation exchange"),
};

const NamedCategory kCategory{"ratls", kTable};

}  // namespace

const NamedCategory& ratls_category() noexcept {
  return kCategory;
}

}  // namespace atls::ratls
