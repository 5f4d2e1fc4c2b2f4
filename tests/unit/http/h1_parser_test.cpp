// HTTP/1.1 response parsing (RFC 9112 §4–§7) as the proxy-server reads its target's answers.
#include "http/h1_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace atls::http::h1 {
namespace {

using namespace std::string_literals;

constexpr std::size_t kLimit = std::size_t{64} * 1024;

HeadParse parse(std::string_view text, ParsedResponse& out, std::size_t limit = kLimit) {
  return parse_response_head(text, limit, out);
}

struct Decoded {
  std::string content;
  std::size_t consumed = 0;
  bool done = false;
  bool failed = false;
  Fields trailers;
};

// Runs the decoder over `input` handed over in pieces of `piece` bytes (0: all at once).
Decoded decode(Framing framing, std::uint64_t length, std::string_view input, std::size_t piece = 0,
               std::size_t max_trailer = 1024) {
  BodyDecoder decoder(framing, length, max_trailer);
  Decoded out;
  std::size_t offered = piece == 0 ? input.size() : 0;
  while (!decoder.done() && !decoder.failed()) {
    if (piece != 0) {
      offered = std::min(input.size(), std::max(offered, out.consumed) + piece);
    }
    const auto step = decoder.next(as_bytes(input.substr(out.consumed, offered - out.consumed)));
    out.content.append(reinterpret_cast<const char*>(step.content.data()), step.content.size());
    out.consumed += step.consumed;
    if (step.consumed == 0 && offered == input.size()) {
      break;  // needs more than the input has
    }
  }
  out.done = decoder.done();
  out.failed = decoder.failed();
  out.trailers = decoder.take_trailers();
  return out;
}

TEST(H1ResponseHead, ParsesStatusReasonFieldsAndLength) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Trimmed:  padded value \t\r\n"
      "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhello";
  ParsedResponse out;
  const auto result = parse(text, out);
  ASSERT_EQ(result.status, ParseStatus::Complete);
  EXPECT_EQ(result.consumed, text.size() - 5);
  EXPECT_EQ(out.head.status, 200);
  EXPECT_EQ(out.head.reason, "OK");
  EXPECT_EQ(out.head.version, Version::Http11);
  EXPECT_EQ(out.head.content_length, 5U);
  EXPECT_TRUE(out.keep_alive);
  EXPECT_FALSE(out.chunked);
  ASSERT_EQ(out.head.headers.size(), 4U);
  EXPECT_EQ(out.head.headers.get("x-trimmed"), "padded value");
  EXPECT_EQ(std::next(out.head.headers.begin(), 3)->name, "set-cookie");  // order, lower-case
  EXPECT_EQ(std::next(out.head.headers.begin(), 3)->value, "b=2");
  EXPECT_EQ(response_framing("GET", out), Framing::ContentLength);
}

TEST(H1ResponseHead, EveryPrefixIsIncompleteNeverInvalid) {
  const std::string text = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n";
  for (std::size_t n = 0; n < text.size(); ++n) {
    ParsedResponse out;
    EXPECT_EQ(parse(text.substr(0, n), out).status, ParseStatus::Incomplete) << n;
  }
  ParsedResponse out;
  EXPECT_EQ(parse(text, out).status, ParseStatus::Complete);
}

TEST(H1ResponseHead, ReasonAndItsSeparatorMayBeOmitted) {
  ParsedResponse out;
  ASSERT_EQ(parse("HTTP/1.1 204\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.status, 204);
  EXPECT_TRUE(out.head.reason.empty());
  ASSERT_EQ(parse("HTTP/1.1 200 \r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(response_framing("GET", out), Framing::CloseDelimited);
}

TEST(H1ResponseHead, PersistenceFollowsVersionAndConnection) {
  ParsedResponse out;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_FALSE(out.keep_alive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(out.head.version, Version::Http10);
  EXPECT_FALSE(out.keep_alive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_TRUE(out.keep_alive);
  // A higher minor version is read as HTTP/1.1 (RFC 9110 §2.5).
  ASSERT_EQ(parse("HTTP/1.7 200 OK\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.version, Version::Http11);
}

TEST(H1ResponseHead, RepeatedEqualContentLengthsAreOneLength) {
  ParsedResponse out;
  ASSERT_EQ(
      parse("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n", out).status,
      ParseStatus::Complete);
  EXPECT_EQ(out.head.content_length, 7U);
}

TEST(H1ResponseHead, MalformedHeadsAreRejectedWithAReason) {
  const std::vector<std::string> cases = {
      "hello\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 099 Low\r\n\r\n",
      "HTTP/1.1 600 High\r\n\r\n",
      "HTTP/1.1 200 O\x01K\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: value\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: 1\r\n continued\r\n\r\n",
      "HTTP/1.1 200 OK\r\nName : value\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: value\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno-colon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: bare\nB: lf\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: nul\0byte\r\n\r\n"s,
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const auto& text : cases) {
    ParsedResponse out;
    const auto result = parse(text, out);
    EXPECT_EQ(result.status, ParseStatus::Invalid) << text;
    EXPECT_FALSE(result.error.empty()) << text;
  }
}

TEST(H1ResponseHead, GarbageFailsBeforeTheTerminatorArrives) {
  ParsedResponse out;
  EXPECT_EQ(parse("SSH-2.0-OpenSSH", out).status, ParseStatus::Invalid);
  EXPECT_EQ(parse("HTTX", out).status, ParseStatus::Invalid);
  EXPECT_EQ(parse("HTT", out).status, ParseStatus::Incomplete);
}

TEST(H1ResponseHead, HeadsBeyondTheLimitAreTooLarge) {
  const std::string text = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n";
  ParsedResponse out;
  EXPECT_EQ(parse(text, out, 100).status, ParseStatus::TooLarge);
  EXPECT_EQ(parse(text.substr(0, 120), out, 100).status, ParseStatus::TooLarge);
  EXPECT_EQ(parse(text.substr(0, 90), out, 100).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse(text, out, text.size()).status, ParseStatus::Complete);
  EXPECT_EQ(parse(text, out, text.size() - 1).status, ParseStatus::TooLarge);
}

TEST(H1ResponseHead, FramingFollowsRfc9112Section6_3) {
  ParsedResponse out;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(response_framing("HEAD", out), Framing::None);
  EXPECT_EQ(response_framing("GET", out), Framing::ContentLength);
  ASSERT_EQ(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(response_framing("GET", out), Framing::None);
  ASSERT_EQ(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(response_framing("GET", out), Framing::Tunnel);
  ASSERT_EQ(parse("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(response_framing("GET", out), Framing::None);
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_TRUE(out.chunked);
  EXPECT_EQ(response_framing("POST", out), Framing::Chunked);
  EXPECT_EQ(response_framing("CONNECT", out), Framing::Tunnel);
}

HeadParse parse_request(std::string_view text, ParsedRequest& out, std::size_t limit = kLimit) {
  return parse_request_head(text, limit, out);
}

TEST(H1RequestHead, ParsesRequestLineFieldsAndFraming) {
  const std::string text =
      "\r\nPOST /upload?x=1 HTTP/1.1\r\nHost: example\r\nContent-Length: 3\r\n"
      "Connection: keep-alive\r\n\r\nabcGET";
  ParsedRequest out;
  const auto result = parse_request(text, out);
  ASSERT_EQ(result.status, ParseStatus::Complete);
  EXPECT_EQ(result.consumed, text.size() - 6);  // the leading empty line is consumed too
  EXPECT_EQ(out.head.method, "POST");
  EXPECT_EQ(out.head.target, "/upload?x=1");
  EXPECT_TRUE(out.head.authority.empty());
  EXPECT_EQ(out.head.version, Version::Http11);
  EXPECT_EQ(out.head.headers.get("host"), "example");
  EXPECT_EQ(out.head.content_length, 3U);
  EXPECT_TRUE(out.keep_alive);
  EXPECT_EQ(request_framing(out), Framing::ContentLength);

  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.version, Version::Http10);
  EXPECT_FALSE(out.keep_alive);
  EXPECT_EQ(request_framing(out), Framing::None);
  ASSERT_EQ(parse_request("PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(request_framing(out), Framing::Chunked);
  ASSERT_EQ(parse_request("POST /e HTTP/1.1\r\nContent-Length: 0\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(request_framing(out), Framing::None);
}

TEST(H1RequestHead, TargetsSplitPerRfc9112Section3_2) {
  ParsedRequest out;
  ASSERT_EQ(parse_request("GET http://Example.COM:8080/a/b?c=d HTTP/1.1\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(out.head.authority, "Example.COM:8080");
  EXPECT_EQ(out.head.target, "/a/b?c=d");
  EXPECT_EQ(out.head.scheme, "http");
  ASSERT_EQ(parse_request("GET https://h?q HTTP/1.1\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.target, "/?q");
  ASSERT_EQ(parse_request("GET http://h HTTP/1.1\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.target, "/");
  ASSERT_EQ(parse_request("CONNECT db.internal:26257 HTTP/1.1\r\n\r\n", out).status,
            ParseStatus::Complete);
  EXPECT_EQ(out.head.authority, "db.internal:26257");
  ASSERT_EQ(parse_request("OPTIONS * HTTP/1.1\r\n\r\n", out).status, ParseStatus::Complete);
  EXPECT_EQ(out.head.target, "*");
}

TEST(H1RequestHead, EveryPrefixIsIncompleteNeverInvalid) {
  const std::string text = "\r\nGET /path HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
  for (std::size_t n = 0; n < text.size(); ++n) {
    ParsedRequest out;
    EXPECT_EQ(parse_request(text.substr(0, n), out).status, ParseStatus::Incomplete) << n;
  }
}

TEST(H1RequestHead, MalformedAndSmugglingShapedRequestsAreRejected) {
  const std::vector<std::string> cases = {
      "G(T / HTTP/1.1\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 \r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",
      "GET\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\r\nX : a\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
      "GET / HTTP/1.1\nHost: h\n\n\r\n\r\n",
  };
  for (const auto& text : cases) {
    ParsedRequest out;
    const auto result = parse_request(text, out);
    EXPECT_EQ(result.status, ParseStatus::Invalid) << text;
    EXPECT_FALSE(result.error.empty()) << text;
  }
  ParsedRequest out;
  EXPECT_EQ(parse_request("\x16\x03\x01", out).status, ParseStatus::Invalid);  // TLS to h1
  EXPECT_EQ(parse_request("GET /" + std::string(200, 'a'), out, 100).status, ParseStatus::TooLarge);
  EXPECT_EQ(parse_request(std::string(200, '\r'), out, 100).status, ParseStatus::Invalid);
}

TEST(H1BodyDecoder, ContentLengthStopsAtTheEndOfTheBody) {
  for (const std::size_t piece : {0U, 1U, 3U}) {
    const auto out = decode(Framing::ContentLength, 5, "helloHTTP/1.1 200 OK", piece);
    EXPECT_TRUE(out.done);
    EXPECT_EQ(out.content, "hello");
    EXPECT_EQ(out.consumed, 5U);  // the next response stays in the buffer
  }
  EXPECT_TRUE(BodyDecoder(Framing::ContentLength, 0, 0).done());
  BodyDecoder short_body(Framing::ContentLength, 10, 0);
  (void)short_body.next(as_bytes("abc"));
  EXPECT_FALSE(short_body.end_of_input());
  EXPECT_TRUE(short_body.failed());
  EXPECT_FALSE(short_body.error().empty());
}

TEST(H1BodyDecoder, CloseDelimitedEndsWithTheConnection) {
  BodyDecoder decoder(Framing::CloseDelimited, 0, 0);
  const auto step = decoder.next(as_bytes("all of it"));
  EXPECT_EQ(step.consumed, 9U);
  EXPECT_EQ(step.content.size(), 9U);
  EXPECT_FALSE(decoder.done());
  EXPECT_TRUE(decoder.end_of_input());
  EXPECT_TRUE(decoder.done());
}

TEST(H1BodyDecoder, ChunkedWithExtensionsAndTrailersInAnyPieces) {
  const std::string wire =
      "5\r\nhello\r\n6;name=value;flag\r\n world\r\n000A \t;x\r\n0123456789\r\n"
      "0\r\nX-Checksum: abc\r\nX-Other:  2 \r\n\r\nHTTP/1.1 200 OK";
  for (const std::size_t piece : {0U, 1U, 2U, 7U}) {
    const auto out = decode(Framing::Chunked, 0, wire, piece);
    ASSERT_TRUE(out.done) << piece;
    EXPECT_EQ(out.content, "hello world0123456789");
    EXPECT_EQ(out.consumed, wire.size() - std::string_view("HTTP/1.1 200 OK").size());
    EXPECT_EQ(out.trailers.get("x-checksum"), "abc");
    EXPECT_EQ(out.trailers.get("x-other"), "2");
  }
  const auto empty = decode(Framing::Chunked, 0, "0\r\n\r\n");
  EXPECT_TRUE(empty.done);
  EXPECT_TRUE(empty.content.empty());
  EXPECT_TRUE(empty.trailers.empty());
  EXPECT_EQ(empty.consumed, 5U);
}

TEST(H1BodyDecoder, MalformedChunkedFramingFails) {
  const std::vector<std::string> cases = {
      "\r\n",                           // no size
      "g\r\n",                          // not hex
      "5\nhello\r\n0\r\n\r\n",          // bare LF after the size
      "5\r\nhelloX\r\n0\r\n\r\n",       // data longer than its size
      "5\r\nhello\rX0\r\n\r\n",         // CR without LF after data
      "5 \r\nhello\r\n0\r\n\r\n",       // whitespace without an extension
      "5;a\x01\r\nhello\r\n0\r\n\r\n",  // control character in an extension
      "10000000000000000\r\n",          // 2^64: overflows
      "0\r\nX-Bad : 1\r\n\r\n",         // malformed trailer field
      "0\r\n folded\r\n\r\n",           // line folding in trailers
  };
  for (const auto& text : cases) {
    const auto out = decode(Framing::Chunked, 0, text);
    EXPECT_TRUE(out.failed) << text;
    EXPECT_FALSE(out.done) << text;
  }
  EXPECT_TRUE(decode(Framing::Chunked, 0, "5;" + std::string(5000, 'e') + "\r\n").failed);
  EXPECT_TRUE(
      decode(Framing::Chunked, 0, "0\r\nX: " + std::string(100, 'v') + "\r\n\r\n", 0, 50).failed);
  // The largest size that fits is accepted (then the data is simply missing).
  const auto big = decode(Framing::Chunked, 0, "FFFFFFFFFFFFFFFF\r\nab");
  EXPECT_FALSE(big.failed);
  EXPECT_EQ(big.content, "ab");
}

}  // namespace
}  // namespace atls::http::h1
