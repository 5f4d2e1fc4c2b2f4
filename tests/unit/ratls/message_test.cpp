// SCALE/frame codec (interop spec §2.2, §2.3): exact bytes, limits, malformed input.
#include "ratls/message.h"

#include <gtest/gtest.h>

#include "core/bytes.h"
#include "ratls/errors.h"

namespace atls::ratls {
namespace {

using attest::AttestationType;

Bytes hex(std::string_view text) {
  return from_hex(text).value();
}

Bytes compact(std::uint64_t value) {
  Bytes out;
  append_compact(out, value);
  return out;
}

TEST(ScaleCompact, EncodesSpecExamples) {
  // §2.3 table of examples.
  EXPECT_EQ(compact(0), hex("00"));
  EXPECT_EQ(compact(63), hex("fc"));
  EXPECT_EQ(compact(64), hex("0101"));
  EXPECT_EQ(compact(8000), hex("017d"));
  EXPECT_EQ(compact(5006), hex("394e"));
  EXPECT_EQ(compact(16383), hex("fdff"));
  EXPECT_EQ(compact(16384), hex("02000100"));
  EXPECT_EQ(compact(19814), hex("9a350100"));
  EXPECT_EQ(compact(65536), hex("02000400"));
  EXPECT_EQ(compact((1ULL << 30) - 1), hex("feffffff"));
  EXPECT_EQ(compact(1ULL << 30), hex("0300000040"));
}

TEST(ScaleCompact, RoundTripsAcrossModeBoundaries) {
  for (std::uint64_t value : {0ULL, 1ULL, 63ULL, 64ULL, 16383ULL, 16384ULL, (1ULL << 30) - 1,
                              1ULL << 30, (1ULL << 32) - 1, 1ULL << 32, ~0ULL}) {
    Bytes encoded = compact(value);
    ByteView view = encoded;
    auto decoded = read_compact(view);
    ASSERT_TRUE(decoded) << value;
    EXPECT_EQ(*decoded, value);
    EXPECT_TRUE(view.empty());
  }
}

TEST(ScaleCompact, RejectsNonMinimalEncodings) {
  for (const char* text :
       {"0100", "fd00", "02000000", "feff0000", "0300000000", "03ffffff3f", "070000004000"}) {
    Bytes bytes = hex(text);
    ByteView view = bytes;
    auto decoded = read_compact(view);
    ASSERT_FALSE(decoded) << text;
    EXPECT_EQ(decoded.error(), make_error_code(Errc::CompactNonMinimal)) << text;
  }
}

TEST(ScaleCompact, RejectsTruncatedAndOversizedBigIntegers) {
  for (const char* text : {"", "01", "020000", "03000000"}) {
    Bytes bytes = hex(text);
    ByteView view = bytes;
    auto decoded = read_compact(view);
    ASSERT_FALSE(decoded) << text;
    EXPECT_EQ(decoded.error(), make_error_code(Errc::FieldOverrun)) << text;
  }
  // Big-integer mode announcing 9 bytes (more than a u64).
  Bytes nine = hex("170000000000000000ff");
  ByteView view = nine;
  EXPECT_EQ(read_compact(view).error(), make_error_code(Errc::CompactInvalid));
}

TEST(AttestationMessage, NoneFrameMatchesSpecBytes) {
  // §2.3 worked example 1.
  auto frame = encode_frame({AttestationType::None, {}});
  ASSERT_TRUE(frame);
  EXPECT_EQ(to_hex(*frame), "00000006106e6f6e6500");
}

TEST(AttestationMessage, TypePrefixesMatchSpec) {
  const std::pair<AttestationType, const char*> cases[] = {
      {AttestationType::None, "106e6f6e65"},
      {AttestationType::GcpTdx, "1c6763702d746478"},
      {AttestationType::AzureTdx, "24617a7572652d746478"},
      {AttestationType::QemuTdx, "2071656d752d746478"},
      {AttestationType::DcapTdx, "20646361702d746478"},
  };
  for (const auto& [type, prefix] : cases) {
    const Bytes encoded = encode_message({type, {}});
    EXPECT_EQ(to_hex(encoded), std::string(prefix) + "00");
  }
}

TEST(AttestationMessage, DcapExampleHeaderBytes) {
  // §2.3 worked example 2: an 8000-byte quote gives message length 8011.
  AttestationMessage message{AttestationType::DcapTdx, Bytes(8000, 0xab)};
  auto frame = encode_frame(message);
  ASSERT_TRUE(frame);
  ASSERT_EQ(frame->size(), 4U + 8011U);
  EXPECT_EQ(to_hex(ByteView(*frame).first(15)), "00001f4b20646361702d746478017d");
  auto decoded = decode_message(ByteView(*frame).subspan(4));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, message);
}

TEST(AttestationMessage, AzureExampleHeaderBytes) {
  // §2.3 worked example 3: a 19814-byte JSON document.
  AttestationMessage message{AttestationType::AzureTdx, Bytes(19814, '{')};
  auto frame = encode_frame(message);
  ASSERT_TRUE(frame);
  EXPECT_EQ(to_hex(ByteView(*frame).first(18)), "00004d7424617a7572652d7464789a350100");
}

TEST(AttestationMessage, FrameLimitIsInclusive) {
  // Message = 9 (type) + 4 (compact) + evidence; choose evidence so the message is exactly 65536.
  const std::size_t at_cap = kMaxFrameLength - 9 - 4;
  auto ok = encode_frame({AttestationType::DcapTdx, Bytes(at_cap, 1)});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), kFrameHeaderSize + kMaxFrameLength);
  auto too_big = encode_frame({AttestationType::DcapTdx, Bytes(at_cap + 1, 1)});
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), make_error_code(Errc::FrameTooLarge));
}

TEST(FrameHeader, AcceptsUpToCapAndRejectsBeyond) {
  EXPECT_EQ(parse_frame_header({0, 0, 0, 6}).value(), 6U);
  EXPECT_EQ(parse_frame_header({0, 1, 0, 0}).value(), 65536U);
  EXPECT_EQ(parse_frame_header({0, 1, 0, 1}).error(), make_error_code(Errc::FrameTooLarge));
  EXPECT_EQ(parse_frame_header({0xff, 0xff, 0xff, 0xff}).error(),
            make_error_code(Errc::FrameTooLarge));
}

TEST(AttestationMessage, DecodeRejectsMalformedInput) {
  const std::pair<const char*, Errc> cases[] = {
      {"", Errc::FieldOverrun},                        // nothing at all
      {"10", Errc::FieldOverrun},                      // type length without bytes
      {"106e6f6e", Errc::FieldOverrun},                // truncated type string
      {"106e6f6e65", Errc::FieldOverrun},              // missing evidence length
      {"106e6f6e6504", Errc::FieldOverrun},            // evidence length 1, no byte
      {"106e6f6e650000", Errc::TrailingBytes},         // one byte after the message
      {"104e4f4e4500", Errc::UnknownAttestationType},  // "NONE": case-sensitive
      {"106e6f6e6600", Errc::UnknownAttestationType},  // "nonf"
      {"0000", Errc::UnknownAttestationType},          // empty type string
      {"1461757473", Errc::FieldOverrun},              // "auts" announced 5 bytes
      {"146175746f00", Errc::UnknownAttestationType},  // "auto" is CLI-only
      {"0100", Errc::CompactNonMinimal},               // 2-byte compact for 0
      {"01016e", Errc::FieldOverrun},                  // 2-byte compact 64, 1 byte left
      {"03000000000000", Errc::CompactNonMinimal},     // big-integer mode for small value
  };
  for (const auto& [text, expected] : cases) {
    auto decoded = decode_message(hex(text));
    ASSERT_FALSE(decoded) << text;
    EXPECT_EQ(decoded.error(), make_error_code(expected)) << text;
  }
}

TEST(AttestationMessage, DecodeRejectsEveryTruncationOfAValidMessage) {
  const Bytes full = encode_message({AttestationType::QemuTdx, Bytes(300, 7)});
  for (std::size_t length = 0; length < full.size(); ++length) {
    EXPECT_FALSE(decode_message(ByteView(full).first(length))) << length;
  }
  EXPECT_TRUE(decode_message(full));
}

TEST(AttestationMessage, ErrorIdsAreStable) {
  EXPECT_EQ(error_id(make_error_code(Errc::FrameTooLarge)), "ratls.frame_too_large");
  EXPECT_EQ(error_id(make_error_code(Errc::UnknownAttestationType)),
            "ratls.unknown_attestation_type");
}

}  // namespace
}  // namespace atls::ratls
