#include "proxy/pg/wire.h"

#include <algorithm>
#include <cctype>

#include "proxy/pg/errors.h"

namespace atls::proxy::pg {

std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

void append_u32(Bytes& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

namespace {

void append_cstring(Bytes& out, std::string_view text) {
  // A cstring ends at its first NUL; never let a NUL inside `text` split the message.
  text = text.substr(0, text.find('\0'));
  out.insert(out.end(), text.begin(), text.end());
  out.push_back(0);
}

// Reads a NUL-terminated string starting at `pos`; advances past the NUL.
Result<std::string> read_cstring(ByteView body, std::size_t& pos) {
  const auto begin = body.begin() + static_cast<std::ptrdiff_t>(pos);
  const auto nul = std::find(begin, body.end(), std::uint8_t{0});
  if (nul == body.end()) {
    return make_error_code(Errc::UnterminatedString);
  }
  std::string text(begin, nul);
  pos = static_cast<std::size_t>(nul - body.begin()) + 1;
  return text;
}

Result<StartupMessage> parse_startup_message(ByteView packet, std::uint32_t version) {
  StartupMessage message;
  message.major = static_cast<std::uint16_t>(version >> 16);
  message.minor = static_cast<std::uint16_t>(version & 0xffffU);
  // Protocol 2.0 was removed in PostgreSQL 14; 3.x minors are negotiated by the backend
  // (NegotiateProtocolVersion), so they pass through unchanged.
  if (message.major != 3) {
    return make_error_code(Errc::UnsupportedProtocolVersion);
  }
  const ByteView body = packet.subspan(8);
  std::size_t pos = 0;
  for (;;) {
    if (pos >= body.size()) {
      return make_error_code(Errc::MissingTerminator);
    }
    if (body[pos] == 0) {
      // The list ends with a single NUL; nothing may follow it.
      if (pos + 1 != body.size()) {
        return make_error_code(Errc::TrailingBytes);
      }
      break;
    }
    auto name = read_cstring(body, pos);
    if (!name) {
      return name.error();
    }
    if (pos >= body.size()) {
      return make_error_code(Errc::UnterminatedString);  // a name without its value
    }
    auto value = read_cstring(body, pos);
    if (!value) {
      return value.error();
    }
    if (message.get(*name)) {
      return make_error_code(Errc::DuplicateParameter);
    }
    message.parameters.emplace_back(std::move(*name), std::move(*value));
  }
  if (!message.get("user")) {
    return make_error_code(Errc::MissingUser);
  }
  return message;
}

}  // namespace

std::optional<std::string_view> StartupMessage::get(std::string_view name) const {
  for (const auto& [key, value] : parameters) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::string_view StartupMessage::user() const {
  return get("user").value_or("");
}

std::string_view StartupMessage::database() const {
  const auto database = get("database");
  return database && !database->empty() ? *database : user();
}

bool StartupMessage::physical_replication() const {
  const auto value = get("replication");
  if (!value) {
    return false;
  }
  // PostgreSQL's parse_bool accepts these spellings (case-insensitively).
  std::string lower(*value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "true" || lower == "on" || lower == "yes" || lower == "1" || lower == "t" ||
         lower == "y";
}

Result<std::uint32_t> parse_startup_length(ByteView prefix) {
  if (prefix.size() < 4) {
    return make_error_code(Errc::PacketTruncated);
  }
  const std::uint32_t length = load_u32(prefix.data());
  if (length < kMinStartupLength) {
    return make_error_code(Errc::PacketTooShort);
  }
  if (length > kMaxStartupLength) {
    return make_error_code(Errc::PacketTooLong);
  }
  return length;
}

Result<StartupPacket> parse_startup_packet(ByteView packet) {
  auto length = parse_startup_length(packet);
  if (!length) {
    return length.error();
  }
  if (packet.size() < *length) {
    return make_error_code(Errc::PacketTruncated);
  }
  if (packet.size() > *length) {
    return make_error_code(Errc::TrailingBytes);
  }
  const std::uint32_t code = load_u32(packet.data() + 4);
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (*length != 8) {
        return make_error_code(Errc::InvalidSpecialRequest);
      }
      if (code == kSslRequestCode) {
        return StartupPacket{SslRequest{}};
      }
      return StartupPacket{GssEncRequest{}};
    case kCancelRequestCode: {
      if (*length < 12 + kMinCancelKey || *length > 12 + kMaxCancelKey) {
        return make_error_code(Errc::InvalidSpecialRequest);
      }
      CancelRequest cancel;
      cancel.pid = load_u32(packet.data() + 8);
      cancel.key.assign(packet.begin() + 12, packet.end());
      return StartupPacket{std::move(cancel)};
    }
    default: break;
  }
  if ((code >> 16) == 1234U) {
    // Another "special" code: PostgreSQL rejects it as an unsupported protocol.
    return make_error_code(Errc::UnsupportedProtocolVersion);
  }
  auto message = parse_startup_message(packet, code);
  if (!message) {
    return message.error();
  }
  return StartupPacket{std::move(*message)};
}

Bytes encode_ssl_request() {
  Bytes out;
  append_u32(out, 8);
  append_u32(out, kSslRequestCode);
  return out;
}

Bytes encode_gssenc_request() {
  Bytes out;
  append_u32(out, 8);
  append_u32(out, kGssEncRequestCode);
  return out;
}

Bytes encode_cancel_request(std::uint32_t pid, ByteView key) {
  Bytes out;
  append_u32(out, static_cast<std::uint32_t>(12 + key.size()));
  append_u32(out, kCancelRequestCode);
  append_u32(out, pid);
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

Bytes encode_startup_message(const StartupMessage& message) {
  Bytes out(4, 0);
  append_u32(out, (static_cast<std::uint32_t>(message.major) << 16) | message.minor);
  for (const auto& [name, value] : message.parameters) {
    append_cstring(out, name);
    append_cstring(out, value);
  }
  out.push_back(0);
  const auto length = static_cast<std::uint32_t>(out.size());
  out[0] = static_cast<std::uint8_t>(length >> 24);
  out[1] = static_cast<std::uint8_t>(length >> 16);
  out[2] = static_cast<std::uint8_t>(length >> 8);
  out[3] = static_cast<std::uint8_t>(length);
  return out;
}

Bytes encode_error_response(std::string_view severity, std::string_view sqlstate,
                            std::string_view message, std::string_view detail) {
  Bytes out{'E', 0, 0, 0, 0};
  out.push_back('S');
  append_cstring(out, severity);
  out.push_back('V');  // non-localised severity (PostgreSQL 9.6+)
  append_cstring(out, severity);
  out.push_back('C');
  append_cstring(out, sqlstate);
  out.push_back('M');
  append_cstring(out, message);
  if (!detail.empty()) {
    out.push_back('D');
    append_cstring(out, detail);
  }
  out.push_back(0);
  const auto length = static_cast<std::uint32_t>(out.size() - 1);
  out[1] = static_cast<std::uint8_t>(length >> 24);
  out[2] = static_cast<std::uint8_t>(length >> 16);
  out[3] = static_cast<std::uint8_t>(length >> 8);
  out[4] = static_cast<std::uint8_t>(length);
  return out;
}

Result<ErrorFields> parse_error_response(ByteView message) {
  if (message.size() < 6 || (message[0] != 'E' && message[0] != 'N') ||
      load_u32(message.data() + 1) != message.size() - 1) {
    return make_error_code(Errc::BackendMessageInvalid);
  }
  const ByteView body = message.subspan(5);
  ErrorFields fields;
  std::size_t pos = 0;
  for (;;) {
    if (pos >= body.size()) {
      return make_error_code(Errc::BackendMessageInvalid);
    }
    const std::uint8_t type = body[pos++];
    if (type == 0) {
      break;
    }
    auto value = read_cstring(body, pos);
    if (!value) {
      return make_error_code(Errc::BackendMessageInvalid);
    }
    switch (type) {
      case 'V': fields.severity = std::move(*value); break;
      case 'S':
        if (fields.severity.empty()) {
          fields.severity = std::move(*value);
        }
        break;
      case 'C': fields.sqlstate = std::move(*value); break;
      case 'M': fields.message = std::move(*value); break;
      case 'D': fields.detail = std::move(*value); break;
      default: break;
    }
  }
  if (pos != body.size()) {
    return make_error_code(Errc::BackendMessageInvalid);
  }
  return fields;
}

}  // namespace atls::proxy::pg
