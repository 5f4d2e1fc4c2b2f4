#include "net/errors.h"

#include <array>

namespace atls::net {
namespace {

constexpr std::array kTable{
    errc_row(Errc::InvalidAddress, "invalid_address", "invalid address"),
    errc_row(Errc::InvalidPort, "invalid_port", "invalid port"),
    errc_row(Errc::InvalidUrl, "invalid_url", "invalid URL"),
    errc_row(Errc::UnsupportedScheme, "unsupported_scheme", "URL scheme must be http or https"),
    errc_row(Errc::ResolveFailed, "resolve_failed", "name resolution failed"),
    errc_row(Errc::ConnectFailed, "connect_failed", "TCP connection failed"),
    errc_row(Errc::TlsFailed, "tls_failed", "TLS handshake failed"),
    errc_row(Errc::Timeout, "timeout", "operation timed out"),
    errc_row(Errc::HttpStatus, "http_status", "unexpected HTTP status"),
    errc_row(Errc::BodyTooLarge, "body_too_large", "response body too large"),
    errc_row(Errc::ProtocolError, "protocol_error", "malformed HTTP response"),
};

const NamedCategory kCategory{"net", kTable};

}  // namespace

const NamedCategory& net_category() noexcept {
  return kCategory;
}

}  // namespace atls::net
