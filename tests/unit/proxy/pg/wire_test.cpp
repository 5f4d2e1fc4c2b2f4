// pgwire start-up packets and the few typed messages the proxy writes or reads (PostgreSQL docs
// §55.2, §55.7; standards.md §5.1): valid packets of every kind, and malformed input — every
// truncation, every bad length, every structural error — with its named pg.* code.
#include "proxy/pg/wire.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/pg/errors.h"

namespace atls::proxy::pg {
namespace {

Bytes startup(std::initializer_list<std::pair<std::string, std::string>> params,
              std::uint16_t major = 3, std::uint16_t minor = 0) {
  StartupMessage message;
  message.major = major;
  message.minor = minor;
  for (const auto& p : params) {
    message.parameters.push_back(p);
  }
  return encode_startup_message(message);
}

Bytes raw(std::initializer_list<std::uint8_t> bytes) {
  return Bytes(bytes);
}

// Builds a packet with a correct length prefix around `body` (code + payload).
Bytes with_length(const Bytes& body) {
  Bytes out;
  append_u32(out, static_cast<std::uint32_t>(body.size() + 4));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

ErrorCode parse_error(ByteView packet) {
  auto parsed = parse_startup_packet(packet);
  EXPECT_FALSE(parsed) << "parsed unexpectedly";
  return parsed ? ErrorCode{} : parsed.error();
}

TEST(PgWire, SslRequestBytesMatchTheProtocol) {
  EXPECT_EQ(encode_ssl_request(), raw({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  EXPECT_EQ(encode_gssenc_request(), raw({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}));
  auto ssl = parse_startup_packet(encode_ssl_request());
  ASSERT_TRUE(ssl);
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*ssl));
  auto gss = parse_startup_packet(encode_gssenc_request());
  ASSERT_TRUE(gss);
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*gss));
}

TEST(PgWire, CancelRequestProtocol30And32) {
  const Bytes key4{1, 2, 3, 4};
  const Bytes packet = encode_cancel_request(0x01020304, key4);
  EXPECT_EQ(packet, raw({0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 1, 2, 3, 4, 1, 2, 3, 4}));
  auto parsed = parse_startup_packet(packet);
  ASSERT_TRUE(parsed);
  const auto& cancel = std::get<CancelRequest>(*parsed);
  EXPECT_EQ(cancel.pid, 0x01020304U);
  EXPECT_EQ(cancel.key, key4);

  // Protocol 3.2 (PostgreSQL 18): 32-byte keys, and up to 256.
  for (std::size_t size : {std::size_t{32}, kMaxCancelKey}) {
    const Bytes key(size, 0xab);
    auto long_key = parse_startup_packet(encode_cancel_request(7, key));
    ASSERT_TRUE(long_key) << size;
    EXPECT_EQ(std::get<CancelRequest>(*long_key).key, key);
  }
}

TEST(PgWire, CancelRequestKeyBounds) {
  EXPECT_EQ(parse_error(encode_cancel_request(7, Bytes(3, 1))),
            make_error_code(Errc::InvalidSpecialRequest));
  EXPECT_EQ(parse_error(encode_cancel_request(7, Bytes(kMaxCancelKey + 1, 1))),
            make_error_code(Errc::InvalidSpecialRequest));
  EXPECT_EQ(parse_error(encode_cancel_request(7, {})),
            make_error_code(Errc::InvalidSpecialRequest));
}

TEST(PgWire, StartupMessageParameters) {
  const Bytes packet = startup(
      {{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}, {"_pq_.x", "1"}});
  auto parsed = parse_startup_packet(packet);
  ASSERT_TRUE(parsed);
  const auto& message = std::get<StartupMessage>(*parsed);
  EXPECT_EQ(message.major, 3);
  EXPECT_EQ(message.minor, 0);
  EXPECT_EQ(message.user(), "alice");
  EXPECT_EQ(message.database(), "shop");
  EXPECT_EQ(message.get("application_name"), "psql");
  EXPECT_FALSE(message.get("options"));
  EXPECT_FALSE(message.physical_replication());
  // Re-encoding is byte-identical (the proxy forwards the packet unchanged anyway).
  EXPECT_EQ(encode_startup_message(message), packet);
}

TEST(PgWire, DatabaseDefaultsToUser) {
  auto parsed = parse_startup_packet(startup({{"user", "bob"}}));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<StartupMessage>(*parsed).database(), "bob");
  auto empty_db = parse_startup_packet(startup({{"user", "bob"}, {"database", ""}}));
  ASSERT_TRUE(empty_db);
  EXPECT_EQ(std::get<StartupMessage>(*empty_db).database(), "bob");
}

TEST(PgWire, Protocol32MinorPassesThrough) {
  auto parsed = parse_startup_packet(startup({{"user", "u"}}, 3, 2));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<StartupMessage>(*parsed).minor, 2);
}

TEST(PgWire, ReplicationSpellings) {
  for (const char* yes : {"true", "on", "yes", "1", "TRUE", "t", "y"}) {
    auto parsed = parse_startup_packet(startup({{"user", "u"}, {"replication", yes}}));
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(std::get<StartupMessage>(*parsed).physical_replication()) << yes;
  }
  for (const char* no : {"database", "false", "0", "off", ""}) {
    auto parsed = parse_startup_packet(startup({{"user", "u"}, {"replication", no}}));
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(std::get<StartupMessage>(*parsed).physical_replication()) << no;
  }
}

TEST(PgWire, LengthPrefixBounds) {
  EXPECT_EQ(parse_startup_length(raw({0, 0, 0})).error(), make_error_code(Errc::PacketTruncated));
  EXPECT_EQ(parse_startup_length(raw({0, 0, 0, 7})).error(), make_error_code(Errc::PacketTooShort));
  EXPECT_EQ(parse_startup_length(raw({0, 0, 0, 0})).error(), make_error_code(Errc::PacketTooShort));
  EXPECT_EQ(*parse_startup_length(raw({0, 0, 0, 8})), 8U);
  EXPECT_EQ(*parse_startup_length(raw({0, 0, 0x27, 0x10})), 10000U);
  EXPECT_EQ(parse_startup_length(raw({0, 0, 0x27, 0x11})).error(),
            make_error_code(Errc::PacketTooLong));
  // A direct-TLS ClientHello read as a length (PostgreSQL 15 closes with "invalid length").
  EXPECT_EQ(parse_startup_length(raw({0x16, 0x03, 0x01, 0x02})).error(),
            make_error_code(Errc::PacketTooLong));
  EXPECT_EQ(parse_startup_length(raw({0xff, 0xff, 0xff, 0xff})).error(),
            make_error_code(Errc::PacketTooLong));
}

TEST(PgWire, EveryTruncationIsRefused) {
  const std::vector<Bytes> packets{
      encode_ssl_request(), encode_gssenc_request(), encode_cancel_request(1, Bytes(4, 9)),
      startup({{"user", "alice"}, {"database", "d"}, {"client_encoding", "UTF8"}})};
  for (const Bytes& packet : packets) {
    for (std::size_t n = 0; n < packet.size(); ++n) {
      auto parsed = parse_startup_packet(ByteView(packet.data(), n));
      ASSERT_FALSE(parsed) << "prefix of " << n << " bytes parsed";
      if (n < 4) {
        EXPECT_EQ(parsed.error(), make_error_code(Errc::PacketTruncated));
      }
    }
    // A prefix with a length that matches the truncation (the body shortened consistently)
    // is refused too, by the structural checks.
    for (std::size_t n = 8; n < packet.size(); ++n) {
      Bytes shortened(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(n));
      const auto length = static_cast<std::uint32_t>(n);
      shortened[0] = static_cast<std::uint8_t>(length >> 24);
      shortened[1] = static_cast<std::uint8_t>(length >> 16);
      shortened[2] = static_cast<std::uint8_t>(length >> 8);
      shortened[3] = static_cast<std::uint8_t>(length);
      EXPECT_FALSE(parse_startup_packet(shortened)) << "consistent prefix of " << n;
    }
  }
}

TEST(PgWire, LengthMustMatchThePacket) {
  Bytes packet = encode_ssl_request();
  packet.push_back(0);
  EXPECT_EQ(parse_error(packet), make_error_code(Errc::TrailingBytes));
  Bytes longer = startup({{"user", "u"}});
  longer[3] = static_cast<std::uint8_t>(longer[3] + 1);
  EXPECT_EQ(parse_error(longer), make_error_code(Errc::PacketTruncated));
}

TEST(PgWire, SpecialRequestsHaveExactLengths) {
  // SSLRequest code with a 12-byte packet.
  EXPECT_EQ(parse_error(with_length(raw({0x04, 0xd2, 0x16, 0x2f, 0, 0, 0, 0}))),
            make_error_code(Errc::InvalidSpecialRequest));
  EXPECT_EQ(parse_error(with_length(raw({0x04, 0xd2, 0x16, 0x30, 0}))),
            make_error_code(Errc::InvalidSpecialRequest));
  // Another 1234/xxxx code: unknown request.
  EXPECT_EQ(parse_error(with_length(raw({0x04, 0xd2, 0x16, 0x31}))),
            make_error_code(Errc::UnsupportedProtocolVersion));
}

TEST(PgWire, UnsupportedProtocolVersions) {
  EXPECT_EQ(parse_error(startup({{"user", "u"}}, 2, 0)),
            make_error_code(Errc::UnsupportedProtocolVersion));
  EXPECT_EQ(parse_error(startup({{"user", "u"}}, 4, 0)),
            make_error_code(Errc::UnsupportedProtocolVersion));
  EXPECT_EQ(parse_error(startup({{"user", "u"}}, 0, 0)),
            make_error_code(Errc::UnsupportedProtocolVersion));
}

TEST(PgWire, StructuralErrorsInStartupMessages) {
  const Bytes v3{0, 3, 0, 0};
  const auto body = [&](std::string_view text) {
    Bytes b = v3;
    b.insert(b.end(), text.begin(), text.end());
    return with_length(b);
  };
  using namespace std::string_view_literals;
  // No parameters and no terminator.
  EXPECT_EQ(parse_error(with_length(v3)), make_error_code(Errc::MissingTerminator));
  // Only the terminator: no user.
  EXPECT_EQ(parse_error(body("\0"sv)), make_error_code(Errc::MissingUser));
  // Name without value.
  EXPECT_EQ(parse_error(body("user\0"sv)), make_error_code(Errc::UnterminatedString));
  // Name without its NUL.
  EXPECT_EQ(parse_error(body("user"sv)), make_error_code(Errc::UnterminatedString));
  // Value without its NUL.
  EXPECT_EQ(parse_error(body("user\0alice"sv)), make_error_code(Errc::UnterminatedString));
  // Pairs but no final NUL.
  EXPECT_EQ(parse_error(body("user\0alice\0"sv)), make_error_code(Errc::MissingTerminator));
  // Bytes after the final NUL.
  EXPECT_EQ(parse_error(body("user\0alice\0\0x"sv)), make_error_code(Errc::TrailingBytes));
  EXPECT_EQ(parse_error(body("user\0alice\0\0\0"sv)), make_error_code(Errc::TrailingBytes));
  // Duplicate parameter (an HBA check on the first `user` must not be bypassed by a second).
  EXPECT_EQ(parse_error(body("user\0alice\0user\0root\0\0"sv)),
            make_error_code(Errc::DuplicateParameter));
  // No user, other parameters present.
  EXPECT_EQ(parse_error(body("database\0d\0\0"sv)), make_error_code(Errc::MissingUser));
  // Valid, for contrast.
  auto ok = parse_startup_packet(body("user\0alice\0\0"sv));
  ASSERT_TRUE(ok);
  EXPECT_EQ(std::get<StartupMessage>(*ok).user(), "alice");
}

TEST(PgWire, MaximumSizeStartupMessage) {
  // Exactly 10000 bytes parses; the length check alone rejects 10001.
  // header, "user\0", "u\0", "x\0", the value's NUL, the final NUL
  const std::size_t overhead = 8 + 5 + 2 + 2 + 1 + 1;
  std::string big(kMaxStartupLength - overhead, 'v');
  Bytes packet = startup({{"user", "u"}, {"x", big}});
  ASSERT_EQ(packet.size(), kMaxStartupLength);
  EXPECT_TRUE(parse_startup_packet(packet));
  packet = startup({{"user", "u"}, {"x", big + "v"}});
  EXPECT_EQ(parse_error(packet), make_error_code(Errc::PacketTooLong));
}

TEST(PgWire, ErrorResponseRoundTrip) {
  const Bytes message =
      encode_error_response("FATAL", kSqlstateInvalidAuthorization, "no rule", "reason x");
  EXPECT_EQ(message[0], 'E');
  EXPECT_EQ(load_u32(message.data() + 1), message.size() - 1);
  auto fields = parse_error_response(message);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->severity, "FATAL");
  EXPECT_EQ(fields->sqlstate, "28000");
  EXPECT_EQ(fields->message, "no rule");
  EXPECT_EQ(fields->detail, "reason x");
  // A NUL inside a field cannot split the message.
  const Bytes cut = encode_error_response("FATAL", "08P01", std::string("a\0b", 3));
  auto cut_fields = parse_error_response(cut);
  ASSERT_TRUE(cut_fields);
  EXPECT_EQ(cut_fields->message, "a");
  EXPECT_TRUE(cut_fields->detail.empty());
}

TEST(PgWire, MalformedErrorResponses) {
  const Bytes good = encode_error_response("FATAL", "28000", "m");
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(parse_error_response(ByteView(good.data(), n))) << n;
  }
  Bytes wrong_type = good;
  wrong_type[0] = 'X';
  EXPECT_EQ(parse_error_response(wrong_type).error(), make_error_code(Errc::BackendMessageInvalid));
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(parse_error_response(trailing));
  // Consistent length but the final NUL missing.
  Bytes no_end(good.begin(), good.end() - 1);
  no_end[4] = static_cast<std::uint8_t>(no_end[4] - 1);
  EXPECT_EQ(parse_error_response(no_end).error(), make_error_code(Errc::BackendMessageInvalid));
}

TEST(PgWire, ErrorIdsAreNamed) {
  EXPECT_EQ(error_id(make_error_code(Errc::HbaRejected)), "pg.hba_rejected");
  EXPECT_EQ(error_id(make_error_code(Errc::PacketTooLong)), "pg.packet_too_long");
  EXPECT_EQ(error_id(make_error_code(Errc::CancelThrottled)), "pg.cancel_throttled");
}

}  // namespace
}  // namespace atls::proxy::pg
