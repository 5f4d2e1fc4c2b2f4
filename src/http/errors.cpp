#include "http/errors.h"

#include <array>

namespace atls::http {
namespace {

constexpr std::array kTable{
    errc_row(Errc::MalformedRequest, "malformed_request", "malformed HTTP request"),
    errc_row(Errc::MalformedResponse, "malformed_response", "malformed HTTP response"),
    errc_row(Errc::HeaderTooLarge, "header_too_large", "HTTP header section too large"),
    errc_row(Errc::ConnectionClosed, "connection_closed", "connection closed"),
    errc_row(Errc::BodyTruncated, "body_truncated", "message body ended early"),
    errc_row(Errc::StreamReset, "stream_reset", "HTTP/2 stream reset"),
    errc_row(Errc::StreamRefused, "stream_refused", "HTTP/2 stream refused"),
    errc_row(Errc::GoAway, "goaway", "HTTP/2 connection is going away"),
    errc_row(Errc::ProtocolError, "protocol_error", "HTTP protocol error"),
    errc_row(Errc::Timeout, "timeout", "HTTP timeout"),
    errc_row(Errc::UpgradeRefused, "upgrade_refused", "protocol upgrade refused"),
    errc_row(Errc::TooManyStreams, "too_many_streams", "too many concurrent streams"),
    errc_row(Errc::NoResponse, "no_response", "handler produced no response"),
};

const NamedCategory kCategory{"http", kTable};

}  // namespace

const NamedCategory& http_category() noexcept {
  return kCategory;
}

}  // namespace atls::http
