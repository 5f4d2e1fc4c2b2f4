// ALPN construction, selection and HTTP-version derivation (interop spec §1.2).
#include "ratls/alpn.h"

#include <gtest/gtest.h>

#include "core/bytes.h"
#include "tls/alpn.h"

namespace atls::ratls {
namespace {

using Strings = std::vector<std::string>;

TEST(RatlsAlpn, ProxyListsMatchSpec) {
  const Strings proxy = ratls_alpn_list(with_http_protocols({}));
  EXPECT_EQ(proxy,
            (Strings{"flashbots-ratls/1+h2", "flashbots-ratls/1+http/1.1", "flashbots-ratls/1"}));
  EXPECT_EQ(ratls_alpn_list({}), Strings{"flashbots-ratls/1"});
}

TEST(RatlsAlpn, ProxyClientWireBytesMatchSpec) {
  // §1.2: 0x14 "flashbots-ratls/1+h2", 0x1a "flashbots-ratls/1+http/1.1", 0x11 "flashbots-ratls/1".
  const Bytes wire = tls::alpn_wire(ratls_alpn_list(with_http_protocols({})));
  ASSERT_EQ(wire.size(), 1U + 20 + 1 + 26 + 1 + 17);
  EXPECT_EQ(wire[0], 0x14);
  EXPECT_EQ(wire[21], 0x1a);
  EXPECT_EQ(wire[48], 0x11);
  EXPECT_EQ(std::string(wire.begin() + 49, wire.end()), "flashbots-ratls/1");
}

TEST(RatlsAlpn, HttpProtocolsKeepOrderWithoutDuplicates) {
  // flashbots tests proxy_alpn_protocols_prefer_http2 / ..._preserve_existing_order.
  EXPECT_EQ(with_http_protocols({}), (Strings{"h2", "http/1.1"}));
  EXPECT_EQ(with_http_protocols({"http/1.1", "h2"}), (Strings{"http/1.1", "h2"}));
  EXPECT_EQ(with_http_protocols({"http/1.1"}), (Strings{"http/1.1", "h2"}));
}

struct SelectionCase {
  Strings server;
  Strings client;
  std::optional<std::string> expected;
};

TEST(RatlsAlpn, ServerPreferenceSelectionTable) {
  const Strings full = ratls_alpn_list(with_http_protocols({}));
  const Strings h1_only = ratls_alpn_list(Strings{"http/1.1"});
  const Strings bare = ratls_alpn_list({});
  const SelectionCase cases[] = {
      {full, full, "flashbots-ratls/1+h2"},           // Rust client <-> server
      {h1_only, full, "flashbots-ratls/1+http/1.1"},  // http_proxy_with_http1
      {full, bare, "flashbots-ratls/1"},              // get-tls-cert
      {full, {"flashbots-ratls/1+http/1.1", "flashbots-ratls/1+h2"}, "flashbots-ratls/1+h2"},
      {full, {"h2", "http/1.1"}, std::nullopt},  // plain HTTPS client
      {bare, {"flashbots-ratls/2"}, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tls::select_alpn(c.server, tls::alpn_wire(c.client)), c.expected);
  }
}

TEST(RatlsAlpn, MalformedClientOfferSelectsNothing) {
  const Strings server = ratls_alpn_list({});
  EXPECT_EQ(tls::select_alpn(server, Bytes{}), std::nullopt);
  EXPECT_EQ(tls::select_alpn(server, Bytes{0x00}), std::nullopt);            // zero-length entry
  EXPECT_EQ(tls::select_alpn(server, Bytes{0x05, 'a', 'b'}), std::nullopt);  // overrun
}

TEST(RatlsAlpn, HttpVersionBySuffix) {
  EXPECT_EQ(http_version_for("flashbots-ratls/1+h2"), HttpVersion::Http2);
  EXPECT_EQ(http_version_for("flashbots-ratls/1+http/1.1"), HttpVersion::Http1);
  EXPECT_EQ(http_version_for("flashbots-ratls/1"), HttpVersion::Http1);
  EXPECT_EQ(http_version_for("flashbots-ratls/1+flashbots-ratls/1"), HttpVersion::Http1);
}

TEST(RatlsAlpn, RecognisesRatlsProtocols) {
  EXPECT_TRUE(is_ratls_protocol("flashbots-ratls/1"));
  EXPECT_TRUE(is_ratls_protocol("flashbots-ratls/1+h2"));
  EXPECT_TRUE(is_ratls_protocol("flashbots-ratls/1+flashbots-ratls/1"));
  EXPECT_FALSE(is_ratls_protocol("flashbots-ratls/10"));
  EXPECT_FALSE(is_ratls_protocol("h2"));
  EXPECT_FALSE(is_ratls_protocol(""));
}

}  // namespace
}  // namespace atls::ratls
