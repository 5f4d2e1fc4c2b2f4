// application/x-www-form-urlencoded parsing (RFC 6749 §3.2, Appendix B) and the token-exchange
// request rules (RFC 8693 §2.1) on top of it, with malformed input.
#include "sts/form.h"

#include <gtest/gtest.h>

#include "ratls/message.h"
#include "sts/errors.h"
#include "sts/jose/base64url.h"
#include "sts/token_exchange.h"

namespace atls::sts {
namespace {

Form parsed(std::string_view body) {
  auto form = parse_form(body);
  EXPECT_TRUE(form) << body;
  return form ? std::move(*form) : Form({});
}

ErrorCode form_error(std::string_view body, const FormLimits& limits = {}) {
  auto form = parse_form(body, limits);
  return form ? ErrorCode{} : form.error().code;
}

TEST(StsForm, DecodesPlusAndPercentEscapes) {
  const Form form = parsed("a=x+y%2Bz&b=%7e%7E&empty=&flag");
  ASSERT_EQ(form.pairs().size(), 4u);
  EXPECT_EQ(form.single("a").value(), std::optional<std::string>("x y+z"));
  EXPECT_EQ(form.single("b").value(), std::optional<std::string>("~~"));
  // RFC 6749 §3.1: a parameter without a value is treated as omitted.
  EXPECT_EQ(form.single("empty").value(), std::nullopt);
  EXPECT_EQ(form.single("flag").value(), std::nullopt);
  EXPECT_EQ(form.single("absent").value(), std::nullopt);
}

TEST(StsForm, SkipsEmptySegments) {
  const Form form = parsed("&&a=1&&b=2&");
  EXPECT_EQ(form.pairs().size(), 2u);
  EXPECT_TRUE(parsed("").pairs().empty());
}

TEST(StsForm, RepeatedSingleParameterIsAnError) {
  const Form form = parsed("a=1&a=2&r=x&r=y");
  auto a = form.single("a");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::FormMalformed);
  EXPECT_EQ(form.all("r"), (std::vector<std::string>{"x", "y"}));
}

TEST(StsForm, RejectsMalformedInput) {
  EXPECT_EQ(form_error("a=%"), Errc::FormMalformed);
  EXPECT_EQ(form_error("a=%4"), Errc::FormMalformed);
  EXPECT_EQ(form_error("a=%zz"), Errc::FormMalformed);
  EXPECT_EQ(form_error("a=%G0"), Errc::FormMalformed);
  EXPECT_EQ(form_error("=value"), Errc::FormMalformed);
  EXPECT_EQ(form_error("%41=ok"), ErrorCode{});
  FormLimits small;
  small.max_bytes = 8;
  EXPECT_EQ(form_error("a=123456789", small), Errc::FormMalformed);
  small.max_bytes = 1024;
  small.max_pairs = 2;
  EXPECT_EQ(form_error("a=1&b=2", small), ErrorCode{});
  EXPECT_EQ(form_error("a=1&b=2&c=3", small), Errc::FormMalformed);
}

TEST(StsForm, EncodeRoundTrips) {
  const std::string text = "urn:x y/z?&=+%~\x01\xff";
  const Form form = parsed("v=" + form_encode(text));
  EXPECT_EQ(form.single("v").value(), std::optional<std::string>(text));
  EXPECT_EQ(form_encode("a-b_c.d~"), "a-b_c.d~");
}

std::string subject_token() {
  return jose::base64url_encode(ratls::encode_message(
      ratls::AttestationMessage{attest::AttestationType::DcapTdx, Bytes{1, 2, 3}}));
}

std::string request_body(std::string extra = {}) {
  return "grant_type=" + form_encode(kTokenExchangeGrant) +
         "&subject_token_type=" + form_encode(kAttestationTokenType) +
         "&subject_token=" + subject_token() + extra;
}

ErrorCode exchange_error(const std::string& body) {
  auto request = parse_token_exchange(parsed(body));
  return request ? ErrorCode{} : request.error().code;
}

TEST(StsTokenExchange, ParsesAValidRequest) {
  auto request = parse_token_exchange(
      parsed(request_body("&audience=db&resource=https%3A%2F%2Fr.example&requested_token_type=" +
                          form_encode(kAccessTokenType))));
  ASSERT_TRUE(request) << request.error().describe();
  EXPECT_EQ(request->subject.type, attest::AttestationType::DcapTdx);
  EXPECT_EQ(request->subject.evidence, (Bytes{1, 2, 3}));
  EXPECT_EQ(request->targets, (std::vector<std::string>{"db", "https://r.example"}));
}

TEST(StsTokenExchange, BodyBuilderMatchesParser) {
  const ratls::AttestationMessage message{attest::AttestationType::SevSnp, Bytes(100, 7)};
  auto request = parse_token_exchange(parsed(make_token_exchange_body(message, {"a", "b c"})));
  ASSERT_TRUE(request) << request.error().describe();
  EXPECT_EQ(request->subject, message);
  EXPECT_EQ(request->targets, (std::vector<std::string>{"a", "b c"}));
}

TEST(StsTokenExchange, RejectsEachMalformedRequest) {
  EXPECT_EQ(exchange_error("subject_token=x"), Errc::UnsupportedGrantType);
  EXPECT_EQ(exchange_error("grant_type=authorization_code"), Errc::UnsupportedGrantType);
  EXPECT_EQ(exchange_error("grant_type=" + form_encode(kTokenExchangeGrant)),
            Errc::SubjectTokenMissing);
  EXPECT_EQ(exchange_error(request_body("&grant_type=x")), Errc::FormMalformed);
  EXPECT_EQ(exchange_error("grant_type=" + form_encode(kTokenExchangeGrant) +
                           "&subject_token=x&subject_token_type=" + form_encode(kJwtTokenType)),
            Errc::SubjectTokenTypeUnsupported);
  EXPECT_EQ(exchange_error(request_body("&actor_token=abc&actor_token_type=x")),
            Errc::ActorTokenUnsupported);
  EXPECT_EQ(exchange_error(request_body("&scope=read")), Errc::ScopeUnsupported);
  EXPECT_EQ(exchange_error(request_body("&requested_token_type=urn%3Aother")),
            Errc::RequestedTokenTypeUnsupported);
  const std::string prefix = "grant_type=" + form_encode(kTokenExchangeGrant) +
                             "&subject_token_type=" + form_encode(kAttestationTokenType);
  // Not base64url, padded, and a message the strict decoder refuses (unknown type, trailing).
  EXPECT_EQ(exchange_error(prefix + "&subject_token=%2B%2F"), Errc::SubjectTokenMalformed);
  EXPECT_EQ(exchange_error(prefix + "&subject_token=AAAA%3D"), Errc::SubjectTokenMalformed);
  EXPECT_EQ(exchange_error(prefix + "&subject_token=" + jose::base64url_encode(Bytes{8, 'x', 'y'})),
            Errc::SubjectTokenMalformed);
  Bytes trailing = ratls::encode_message({attest::AttestationType::DcapTdx, Bytes{1}});
  trailing.push_back(0);
  EXPECT_EQ(exchange_error(prefix + "&subject_token=" + jose::base64url_encode(trailing)),
            Errc::SubjectTokenMalformed);
}

TEST(StsTokenExchange, ReportDataBindsKeyAndNonce) {
  Bytes thumbprint(32);
  for (std::size_t i = 0; i < thumbprint.size(); ++i) {
    thumbprint[i] = static_cast<std::uint8_t>(i);
  }
  const auto bound = token_request_report_data(thumbprint, "nonce-1");
  EXPECT_TRUE(std::equal(thumbprint.begin(), thumbprint.end(), bound.begin()));
  // SHA-256("atls-proxy token-exchange v1\0nonce-1"), computed independently with
  //   printf 'atls-proxy token-exchange v1\0nonce-1' | sha256sum
  EXPECT_EQ(to_hex(ByteView(bound).subspan(32)),
            "712767b4338ed6666f4f233d4c64c797f8db54f644842672e6e5faf6fb99b32e");
  EXPECT_NE(token_request_report_data(thumbprint, "nonce-2"), bound);
  thumbprint[0] ^= 1;
  EXPECT_NE(token_request_report_data(thumbprint, "nonce-1"), bound);
}

}  // namespace
}  // namespace atls::sts
