// What crosses the proxy (interop spec §7.3, §7.4): target request rewriting, channel request
// shaping, attestation headers, file-server path resolution, provider URLs.
#include <gtest/gtest.h>

#include "proxy/http/attestation_headers.h"
#include "proxy/http/client_proxy.h"
#include "proxy/http/file_server.h"
#include "proxy/http/forward_to_target.h"
#include "ratls/provider_attester.h"
#include "support/process.h"

namespace atls::proxy {
namespace {

using http::Fields;
using http::RequestHead;

ratls::PeerAttestation attested_dcap() {
  ratls::PeerAttestation peer;
  peer.claimed_type = attest::AttestationType::DcapTdx;
  attest::VerifiedClaims claims;
  claims.type = attest::AttestationType::DcapTdx;
  for (unsigned i = 0; i < 5; ++i) {
    claims.measurements[i] = Bytes(48, static_cast<std::uint8_t>(i));
  }
  peer.claims = claims;
  return peer;
}

TEST(TargetRequest, RewritesAsFlashbotsAndStripsSpoofing) {
  RequestHead in;
  in.method = "POST";
  in.target = "/api";
  in.has_body = true;
  in.headers = Fields{{"Host", "original"},
                      {"X-Forwarded-For", " 10.0.0.1 , 10.0.0.2"},
                      {"X-Flashbots-Measurement", "{\"0\":\"forged\"}"},
                      {"x-flashbots-attestation-type", "dcap-tdx"},
                      {"Connection", "keep-alive"},
                      {"X-Bad", "a\r\nx-injected: yes"},
                      {"Content-Type", "application/json"}};
  const std::string peer_ip = "192.0.2.7";
  ratls::PeerAttestation unattested;
  auto out =
      make_target_request(in, "backend:8080", peer_ip, attestation_header_values(unattested));
  EXPECT_EQ(out.authority, "backend:8080");  // Host on the wire
  EXPECT_FALSE(out.headers.contains("host"));
  EXPECT_EQ(out.headers.get("x-real-ip"), "192.0.2.7");
  EXPECT_EQ(out.headers.get("x-forwarded-for"), "10.0.0.1 , 10.0.0.2, 192.0.2.7");
  EXPECT_EQ(out.headers.get("x-flashbots-attestation-type"), "none");
  EXPECT_FALSE(out.headers.contains("x-flashbots-measurement"));
  EXPECT_FALSE(out.headers.contains("connection"));
  EXPECT_FALSE(out.headers.contains("x-bad"));
  EXPECT_EQ(out.headers.get("content-type"), "application/json");

  auto attested =
      make_target_request(in, "backend:8080", peer_ip, attestation_header_values(attested_dcap()));
  EXPECT_EQ(attested.headers.get("x-flashbots-attestation-type"), "dcap-tdx");
  EXPECT_EQ(attested.headers.get("x-flashbots-measurement")->substr(0, 10), "{\"0\":\"0000");
}

TEST(TargetRequest, ExtendedConnectBecomesAnHttp11Upgrade) {
  RequestHead in;
  in.method = "CONNECT";
  in.protocol = "websocket";
  in.target = "/chat";
  in.headers = Fields{{"sec-websocket-version", "13"}, {"sec-websocket-protocol", "chat"}};
  auto out = make_target_request(in, "t:1", "127.0.0.1",
                                 attestation_header_values(ratls::PeerAttestation{}));
  EXPECT_EQ(out.method, "GET");
  EXPECT_TRUE(out.headers.has_token("upgrade", "websocket"));
  EXPECT_TRUE(out.headers.has_token("connection", "upgrade"));
  EXPECT_EQ(out.headers.get("sec-websocket-key")->size(), 24U);
  EXPECT_EQ(out.headers.get("sec-websocket-protocol"), "chat");
  EXPECT_FALSE(out.has_body);
}

TEST(ChannelRequest, ShapedLikeTheFlashbotsClient) {
  RequestHead source;
  source.method = "GET";
  source.target = "/x";
  source.headers =
      Fields{{"Host", "svc"}, {"X-Flashbots-Measurement", "forged"}, {"Keep-Alive", "5"}};
  auto h2 = make_channel_request(source, ratls::HttpVersion::Http2, "server:443");
  EXPECT_EQ(h2.scheme, "http");
  EXPECT_TRUE(h2.authority.empty());  // no :authority; Host stays a regular field (§7.1)
  EXPECT_EQ(h2.headers.get("host"), "svc");
  EXPECT_FALSE(h2.headers.contains("x-flashbots-measurement"));
  EXPECT_FALSE(h2.headers.contains("keep-alive"));

  RequestHead upgrade;
  upgrade.method = "GET";
  upgrade.target = "/ws";
  upgrade.headers = Fields{{"Host", "svc"},
                           {"Upgrade", "websocket"},
                           {"Connection", "Upgrade"},
                           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                           {"Sec-WebSocket-Version", "13"}};
  auto ws = make_channel_request(upgrade, ratls::HttpVersion::Http2, "server:443");
  EXPECT_EQ(ws.method, "CONNECT");
  EXPECT_EQ(ws.protocol, "websocket");
  EXPECT_EQ(ws.authority, "svc");
  EXPECT_FALSE(ws.headers.contains("sec-websocket-key"));
  auto ws1 = make_channel_request(upgrade, ratls::HttpVersion::Http1, "server:443");
  EXPECT_EQ(ws1.method, "GET");
  EXPECT_TRUE(ws1.headers.has_token("upgrade", "websocket"));

  // HTTP/1.0 without Host: the proxy-server's address stands in, on both channel versions.
  RequestHead old;
  old.method = "GET";
  old.target = "/";
  old.version = http::Version::Http10;
  EXPECT_EQ(make_channel_request(old, ratls::HttpVersion::Http2, "server:443").headers.get("host"),
            "server:443");
  EXPECT_EQ(make_channel_request(old, ratls::HttpVersion::Http1, "server:443").headers.get("host"),
            "server:443");
}

TEST(AttestationHeaders, AreReplacedNotAppended) {
  Fields fields{{"X-FLASHBOTS-MEASUREMENT", "a"},
                {"x-flashbots-measurement", "b"},
                {"X-Flashbots-Attestation-Type", "azure-tdx"}};
  set_attestation_headers(fields, attested_dcap());
  EXPECT_EQ(fields.size(), 2U);
  EXPECT_EQ(fields.get("x-flashbots-attestation-type"), "dcap-tdx");
  const std::string expected = R"({"0":")" + std::string(96, '0') + R"(","1":")" +
                               to_hex(Bytes(48, 1)) + R"(","2":")" + to_hex(Bytes(48, 2)) +
                               R"(","3":")" + to_hex(Bytes(48, 3)) + R"(","4":")" +
                               to_hex(Bytes(48, 4)) + R"("})";
  EXPECT_EQ(fields.get("x-flashbots-measurement"), expected);
}

TEST(FileServer, PathsStayInsideTheRoot) {
  testing::TempDir dir;
  dir.write("a.txt", "a");
  const std::filesystem::path root = dir.path();
  EXPECT_EQ(resolve_request_path(root, "/a.txt")->filename(), "a.txt");
  EXPECT_EQ(resolve_request_path(root, "/a%2etxt?x=1")->filename(), "a.txt");
  EXPECT_FALSE(resolve_request_path(root, "/../etc/passwd"));
  EXPECT_FALSE(resolve_request_path(root, "/%2e%2e/etc/passwd"));
  EXPECT_FALSE(resolve_request_path(root, "/a%00.txt"));
  EXPECT_FALSE(resolve_request_path(root, "/a%zz"));
  EXPECT_FALSE(resolve_request_path(root, "relative"));
  std::filesystem::create_symlink("/etc", std::filesystem::path(dir.path()) / "escape");
  EXPECT_FALSE(resolve_request_path(root, "/escape/passwd"));
  EXPECT_EQ(content_type_for("x.html"), "text/html");
  EXPECT_EQ(content_type_for("x.unknown"), "application/octet-stream");
}

TEST(ProviderAttester, OnlyPrivateIpLiteralsAndExplicitTypes) {
  EXPECT_TRUE(ratls::is_private_ip_literal("10.1.2.3"));
  EXPECT_TRUE(ratls::is_private_ip_literal("172.16.0.1"));
  EXPECT_FALSE(ratls::is_private_ip_literal("172.32.0.1"));
  EXPECT_TRUE(ratls::is_private_ip_literal("192.168.1.1"));
  EXPECT_TRUE(ratls::is_private_ip_literal("169.254.169.254"));
  EXPECT_TRUE(ratls::is_private_ip_literal("127.0.0.1"));
  EXPECT_TRUE(ratls::is_private_ip_literal("::1"));
  EXPECT_TRUE(ratls::is_private_ip_literal("fd00::1"));
  EXPECT_TRUE(ratls::is_private_ip_literal("fe80::1"));
  EXPECT_FALSE(ratls::is_private_ip_literal("8.8.8.8"));
  EXPECT_FALSE(ratls::is_private_ip_literal("2001:db8::1"));
  EXPECT_FALSE(ratls::is_private_ip_literal("localhost"));

  auto ok =
      ratls::ProviderAttester::create("127.0.0.1:8080/attest/", attest::AttestationType::DcapTdx);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ((*ok)->url().scheme, "http");
  EXPECT_EQ((*ok)->url().target, "");
  EXPECT_FALSE(ratls::ProviderAttester::create("http://attest.example.com",
                                               attest::AttestationType::DcapTdx));
  EXPECT_FALSE(ratls::ProviderAttester::create("127.0.0.1", attest::AttestationType::None));
}

}  // namespace
}  // namespace atls::proxy
