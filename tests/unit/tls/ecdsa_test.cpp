// ECDSA signature encodings (tls/ecdsa.h): DER <-> fixed-width raw r || s, with malformed input.
#include "tls/ecdsa.h"

#include <gtest/gtest.h>

namespace atls::tls {
namespace {

Bytes hex(std::string_view text) {
  return from_hex(text).value();
}

TEST(Ecdsa, DerOfKnownComponents) {
  // SEQUENCE { INTEGER 1, INTEGER 0x80 (a leading zero keeps it positive, X.690 §8.3) }.
  EXPECT_EQ(ecdsa_der_from_components(hex("01"), hex("80")), hex("3007020101020200"
                                                                 "80"));
  // Leading zero bytes of the fixed-width form are not encoded.
  EXPECT_EQ(ecdsa_der_from_components(hex("000001"), hex("0000000080")), hex("300702010102020080"));
}

TEST(Ecdsa, RawRoundTripKeepsTheFixedWidth) {
  Bytes raw(64, 0);
  raw[31] = 0x05;  // r = 5: 31 leading zero bytes
  raw[32] = 0xff;  // s has its high bit set
  raw[63] = 0x01;
  const Bytes der = ecdsa_der_from_components(ByteView(raw).first(32), ByteView(raw).subspan(32));
  ASSERT_FALSE(der.empty());
  EXPECT_EQ(ecdsa_raw_from_der(der, 32), raw);
  // The same signature in a wider field (P-384 width) is left-padded.
  const Bytes wide = ecdsa_raw_from_der(der, 48);
  ASSERT_EQ(wide.size(), 96u);
  EXPECT_EQ(wide[47], 0x05);
  EXPECT_EQ(wide[48 + 16], 0xff);
}

TEST(Ecdsa, RejectsMalformedDer) {
  const Bytes der = hex("300702010102020080");
  EXPECT_TRUE(ecdsa_raw_from_der({}, 32).empty());
  EXPECT_TRUE(ecdsa_raw_from_der(ByteView(der).first(der.size() - 1), 32).empty());  // truncated
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_TRUE(ecdsa_raw_from_der(trailing, 32).empty());           // bytes after the value
  EXPECT_TRUE(ecdsa_raw_from_der(hex("0403010203"), 32).empty());  // not a SEQUENCE
  // A component wider than the field: r = 2^256 does not fit in 32 bytes.
  Bytes too_wide(33, 0);
  too_wide[0] = 1;
  const Bytes big = ecdsa_der_from_components(too_wide, hex("01"));
  ASSERT_FALSE(big.empty());
  EXPECT_TRUE(ecdsa_raw_from_der(big, 32).empty());
  EXPECT_EQ(ecdsa_raw_from_der(big, 33).size(), 66u);
}

}  // namespace
}  // namespace atls::tls
