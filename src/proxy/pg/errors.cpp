#include "proxy/pg/errors.h"

#include <array>

namespace atls::proxy::pg {
namespace {

constexpr std::array kTable{
    errc_row(Errc::PacketTooShort, "packet_too_short",
             "startup packet length below the 8-byte minimum"),
    errc_row(Errc::PacketTooLong, "packet_too_long",
             "startup packet length above the 10000-byte maximum"),
    errc_row(Errc::PacketTruncated, "packet_truncated", "connection ended inside a startup packet"),
    errc_row(Errc::UnsupportedProtocolVersion, "unsupported_protocol_version",
             "startup packet requests a protocol major version other than 3"),
    errc_row(Errc::InvalidSpecialRequest, "invalid_special_request",
             "SSLRequest, GSSENCRequest or CancelRequest with a wrong length"),
    errc_row(Errc::UnterminatedString, "unterminated_string",
             "startup parameter without its NUL terminator"),
    errc_row(Errc::MissingTerminator, "missing_terminator",
             "startup message does not end with the final NUL byte"),
    errc_row(Errc::TrailingBytes, "trailing_bytes",
             "bytes after the final NUL of the startup message"),
    errc_row(Errc::DuplicateParameter, "duplicate_parameter", "startup parameter given twice"),
    errc_row(Errc::MissingUser, "missing_user", "startup message without a user parameter"),
    errc_row(Errc::UnencryptedDataAfterSslRequest, "unencrypted_data_after_ssl_request",
             "plaintext bytes followed the SSLRequest (CVE-2021-23214 defence)"),
    errc_row(Errc::TooManyNegotiations, "too_many_negotiations",
             "more encryption negotiation requests than a client ever sends"),
    errc_row(Errc::TlsRequired, "tls_required",
             "startup message over plaintext where TLS is required"),
    errc_row(Errc::DirectTlsWithoutAlpn, "direct_tls_without_alpn",
             "direct TLS connection without ALPN postgresql"),
    errc_row(Errc::BackendMessageInvalid, "backend_message_invalid",
             "backend sent a malformed message during start-up"),
    errc_row(Errc::BackendKeyDataInvalid, "backend_key_data_invalid",
             "backend sent a malformed BackendKeyData message"),
    errc_row(Errc::HbaSyntax, "hba_syntax", "syntax error in the host-based rules"),
    errc_row(Errc::HbaUnsupported, "hba_unsupported",
             "host-based rules use a form the proxy does not support"),
    errc_row(Errc::HbaRejected, "hba_rejected", "a host-based rule rejects the connection"),
    errc_row(Errc::HbaNoMatch, "hba_no_match", "no host-based rule matches the connection"),
    errc_row(Errc::HbaNotAttested, "hba_not_attested",
             "the matching rule requires an attested proxy-client"),
    errc_row(Errc::AllowlistSyntax, "allowlist_syntax", "invalid address in the IP allowlist"),
    errc_row(Errc::AllowlistRejected, "allowlist_rejected",
             "client address is not in the IP allowlist"),
    errc_row(Errc::CancelUnknownKey, "cancel_unknown_key",
             "CancelRequest for a key the proxy did not issue"),
    errc_row(Errc::CancelThrottled, "cancel_throttled",
             "CancelRequest dropped: too many failed cancel lookups"),
    errc_row(Errc::CancelForwardFailed, "cancel_forward_failed",
             "the cancel could not be delivered to the backend"),
    errc_row(Errc::CancelKeyUnavailable, "cancel_key_unavailable",
             "the random generator failed while issuing a cancel key"),
    errc_row(Errc::BackendConnectFailed, "backend_connect_failed",
             "cannot connect to the database backend"),
    errc_row(Errc::BackendTlsRefused, "backend_tls_refused",
             "database backend refused TLS (answered N to SSLRequest)"),
    errc_row(Errc::BackendTlsFailed, "backend_tls_failed",
             "TLS handshake with the database backend failed (verification or protocol)"),
    errc_row(Errc::BackendTlsConfig, "backend_tls_config", "invalid backend TLS configuration"),
    errc_row(Errc::BackendClosed, "backend_closed",
             "database backend closed the connection during start-up"),
    errc_row(Errc::ChannelUnavailable, "channel_unavailable",
             "no attested channel to the proxy-server"),
    errc_row(Errc::TunnelRefused, "tunnel_refused", "proxy-server refused the database tunnel"),
    errc_row(Errc::SourceAddressInvalid, "source_address_invalid",
             "missing or malformed source address field on a database tunnel"),
    errc_row(Errc::StartupTimeout, "startup_timeout",
             "client did not complete the start-up phase in time"),
    errc_row(Errc::ClientClosed, "client_closed", "client closed the connection during start-up"),
    errc_row(Errc::LocalTlsFailed, "local_tls_failed",
             "TLS handshake with a local database client failed"),
};

const NamedCategory kCategory{"pg", kTable};

}  // namespace

const NamedCategory& pg_category() noexcept {
  return kCategory;
}

}  // namespace atls::proxy::pg
