// Message semantics shared by both HTTP versions (RFC 9110 §5, §7.6.1; RFC 6455 §4.2.2).
#include "http/semantics.h"

#include <gtest/gtest.h>

#include "http/h1_wire.h"

namespace atls::http {
namespace {

TEST(HttpFields, NamesAreCaseInsensitiveAndRepeatedFieldsKept) {
  Fields fields{{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(fields.get("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(fields.size(), 3U);
  EXPECT_EQ(fields.erase("X-a"), 2U);
  fields.set("x-b", "3");
  fields.set("X-B", "4");
  EXPECT_EQ(fields.get("x-b"), "4");
  EXPECT_EQ(fields.size(), 2U);
  EXPECT_EQ(fields.begin()->name, "content-type");  // stored lower-case
}

TEST(HttpFields, TokensAreMatchedAcrossListsAndParameters) {
  Fields fields{{"Connection", "keep-alive, Upgrade"}, {"TE", "gzip;q=0.5,  trailers "}};
  EXPECT_TRUE(fields.has_token("connection", "upgrade"));
  EXPECT_TRUE(fields.has_token("te", "trailers"));
  EXPECT_TRUE(fields.has_token("te", "gzip"));
  EXPECT_FALSE(fields.has_token("connection", "close"));
  EXPECT_FALSE(fields.has_token("connection", "upgr"));
  EXPECT_TRUE(fields.has_token("Connection", "UPGRADE"));  // a query in any case
}

TEST(HttpSemantics, ConnectionSpecificFieldsAreStripped) {
  Fields fields{{"Connection", "close, X-Secret"},
                {"Keep-Alive", "timeout=5"},
                {"Proxy-Connection", "keep-alive"},
                {"Transfer-Encoding", "chunked"},
                {"Upgrade", "websocket"},
                {"TE", "trailers, deflate"},
                {"X-Secret", "s"},
                {"X-Kept", "k"},
                {"Host", "h"}};
  strip_connection_fields(fields);
  EXPECT_EQ(fields, (Fields{{"x-kept", "k"}, {"host", "h"}, {"te", "trailers"}}));

  Fields no_trailers{{"TE", "gzip"}};
  strip_connection_fields(no_trailers);
  EXPECT_TRUE(no_trailers.empty());
}

TEST(HttpSemantics, FieldValidationRejectsSmuggling) {
  EXPECT_TRUE(is_valid_field("x-ok", "a value with spaces"));
  EXPECT_TRUE(is_valid_field("x-empty", ""));
  EXPECT_FALSE(is_valid_field("x-bad", "a\r\nx-injected: 1"));
  EXPECT_FALSE(is_valid_field("x-bad", std::string("nul\0byte", 8)));
  EXPECT_FALSE(is_valid_field("bad name", "v"));
  EXPECT_FALSE(is_valid_field("bad:name", "v"));
  EXPECT_FALSE(is_valid_field("", "v"));
  EXPECT_FALSE(is_valid_field("x", " padded"));
  // Every tchar of RFC 9110 §5.6.2, and none of the delimiters or other bytes.
  EXPECT_TRUE(is_valid_field("Az09!#$%&'*+-.^_`|~", "v"));
  for (const char delimiter : std::string_view("\"(),/:;<=>?@[\\]{}\x7f\x80\xff\t")) {
    EXPECT_FALSE(is_valid_field(std::string("x") + delimiter, "v")) << int(delimiter);
  }
  Fields fields{{"x-ok", "1"}, {"x-bad", "a\nb"}, {"x-ok2", "2"}};
  EXPECT_EQ(drop_invalid_fields(fields), 1U);
  EXPECT_EQ(fields, (Fields{{"x-ok", "1"}, {"x-ok2", "2"}}));
}

TEST(HttpSemantics, WebSocketAcceptMatchesRfc6455Example) {
  // RFC 6455 §1.3.
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(make_websocket_key().size(), 24U);
  EXPECT_NE(make_websocket_key(), make_websocket_key());
}

TEST(HttpSemantics, UpgradeAndConnectDetection) {
  RequestHead upgrade;
  upgrade.method = "GET";
  upgrade.headers = Fields{{"Upgrade", "WebSocket"}, {"Connection", "keep-alive, upgrade"}};
  EXPECT_TRUE(is_websocket_upgrade(upgrade));
  upgrade.method = "POST";
  EXPECT_FALSE(is_websocket_upgrade(upgrade));
  RequestHead connect;
  connect.method = "CONNECT";
  EXPECT_TRUE(is_tunnel_connect(connect));
  connect.protocol = "websocket";
  EXPECT_TRUE(is_websocket_connect(connect));
  EXPECT_FALSE(is_tunnel_connect(connect));
}

TEST(HttpSemantics, ResponseContentRules) {
  EXPECT_FALSE(response_has_content("HEAD", 200));
  EXPECT_FALSE(response_has_content("GET", 204));
  EXPECT_FALSE(response_has_content("GET", 304));
  EXPECT_FALSE(response_has_content("GET", 100));
  EXPECT_FALSE(response_has_content("CONNECT", 200));
  EXPECT_TRUE(response_has_content("CONNECT", 407));
  EXPECT_TRUE(response_has_content("GET", 404));
}

TEST(H1Wire, HeadsSerialiseWithFramingAndHost) {
  RequestHead request;
  request.method = "POST";
  request.target = "/upload?x=1";
  request.headers = Fields{{"Host", "ignored"}, {"Content-Length", "9"}, {"X-A", "1"}};
  request.content_length = 5;
  EXPECT_EQ(serialize_request_head(request, "target:80", Framing::ContentLength),
            "POST /upload?x=1 HTTP/1.1\r\nhost: target:80\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n");
  EXPECT_EQ(serialize_request_head(request, "t", Framing::Chunked),
            "POST /upload?x=1 HTTP/1.1\r\nhost: t\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n");
  ResponseHead response;
  response.status = 502;
  EXPECT_EQ(serialize_response_head(response, Framing::None, true),
            "HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n");
  EXPECT_EQ(chunk_header(255), "ff\r\n");
  EXPECT_EQ(last_chunk(Fields{{"X-Sum", "1"}}), "0\r\nx-sum: 1\r\n\r\n");
  EXPECT_FALSE(allowed_in_trailers("Content-Length"));
  EXPECT_TRUE(allowed_in_trailers("x-checksum"));
}

}  // namespace
}  // namespace atls::http
