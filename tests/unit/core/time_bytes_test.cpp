// RFC 3339 parsing and operator evidence decoding (hex / base64 / raw).
#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/time.h"

namespace atls {
namespace {

long long unix_of(std::string_view text) {
  auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

TEST(Rfc3339, ParsesZuluOffsetsFractionsAndUnixSeconds) {
  EXPECT_EQ(unix_of("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(unix_of("2026-01-27T10:19:01Z"), 1769509141);
  EXPECT_EQ(unix_of("2026-01-27T12:19:01+02:00"), 1769509141);
  EXPECT_EQ(unix_of("2026-01-27t10:19:01.999z"), 1769509141);
  EXPECT_EQ(unix_of("2024-02-29 00:00:00Z"), 1709164800);  // leap day
  EXPECT_EQ(unix_of("1769509141"), 1769509141);
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("1769509141")), "2026-01-27T10:19:01Z");
}

TEST(Rfc3339, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026-01-27", "2026-13-01T00:00:00Z", "2026-01-27T10:19:01",
                          "2026-01-27T25:00:00Z", "2026-01-27T10:19:01+0200", "yesterday",
                          "2026-01-27T10:19:01Zjunk", "2026-01-27T10:19:01."}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(EvidenceText, HexBase64AndRawAreRecognised) {
  const Bytes raw{0x00, 0xff, 0x10, 0x80};
  EXPECT_EQ(decode_evidence_text(as_bytes("0x00ff1080\n")), raw);
  EXPECT_EQ(decode_evidence_text(as_bytes("00FF 1080")), raw);
  EXPECT_EQ(decode_evidence_text(as_bytes("AP8QgA==")), raw);
  EXPECT_EQ(decode_evidence_text(as_bytes("AP8QgA")), raw);  // unpadded
  EXPECT_EQ(decode_evidence_text(raw), raw);                 // binary stays binary
  EXPECT_FALSE(from_base64("AP8Q=gA").has_value());          // data after padding
  EXPECT_FALSE(from_base64("A").has_value());                // impossible length
  EXPECT_EQ(from_base64("-_8"), (Bytes{0xfb, 0xff}));        // URL-safe alphabet
}

}  // namespace
}  // namespace atls
