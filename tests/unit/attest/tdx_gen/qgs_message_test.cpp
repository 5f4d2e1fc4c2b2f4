// The QGS GET_QUOTE codec and the TDX_CMD_GET_QUOTE buffer framing (attest/tdx_gen/qgs_message.h,
// docs/verification.md §5.3): exact encodings, round trips, and every malformed response a host
// could send (truncation at every length, inconsistent sizes, 32-bit size overflow, wrong
// version or type, QGS error codes, empty quotes, inconsistent out_len / length prefixes).
#include "attest/tdx_gen/qgs_message.h"

#include <gtest/gtest.h>

#include <array>

#include "attest/tdx_gen/errors.h"

namespace atls::attest::tdx_gen {
namespace qgs_message_test {
namespace {

TdReport sample_report() {
  TdReport report{};
  for (std::size_t i = 0; i < report.size(); ++i) {
    report[i] = static_cast<std::uint8_t>(i * 13 + 1);
  }
  return report;
}

Bytes sample_quote(std::size_t size = 600) {
  Bytes quote(size);
  for (std::size_t i = 0; i < quote.size(); ++i) {
    quote[i] = static_cast<std::uint8_t>(i ^ 0x5A);
  }
  return quote;
}

void put32(Bytes& bytes, std::size_t offset, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

std::uint32_t get32(const Bytes& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= static_cast<std::uint32_t>(bytes[offset + i]) << (8 * i);
  }
  return value;
}

template <class T>
std::string outcome_id(const Outcome<T>& result) {
  return result ? "ok" : error_id(result.error().code);
}

TEST(QgsMessage, RequestLayout) {
  const TdReport report = sample_report();
  const Bytes request = encode_get_quote_request(report);
  ASSERT_EQ(request.size(), 24U + 1024U);
  // header: major 1, minor 0, type 0 (GET_QUOTE_REQ), size, error_code 0 — little-endian
  const Bytes header(request.begin(), request.begin() + 16);
  EXPECT_EQ(header, (Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x04, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(get32(request, 16), 1024U);  // report_size
  EXPECT_EQ(get32(request, 20), 0U);     // id_list_size
  EXPECT_TRUE(std::equal(report.begin(), report.end(), request.begin() + 24));

  const auto decoded = decode_get_quote_request(request);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_TRUE(std::equal(report.begin(), report.end(), decoded->begin(), decoded->end()));
}

TEST(QgsMessage, ResponseRoundTrip) {
  const Bytes quote = sample_quote();
  const Bytes response = encode_get_quote_response(quote);
  ASSERT_EQ(response.size(), 24U + quote.size());
  EXPECT_EQ(get32(response, 4), kQgsGetQuoteResponse);
  EXPECT_EQ(get32(response, 8), response.size());
  const auto decoded = decode_get_quote_response(response);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->quote, quote);
  EXPECT_TRUE(decoded->selected_id.empty());

  // A selected attestation key id precedes the quote.
  const Bytes id(16, 0xAB);
  const auto with_id = decode_get_quote_response(encode_get_quote_response(quote, id));
  ASSERT_TRUE(with_id) << with_id.error().describe();
  EXPECT_EQ(with_id->selected_id, id);
  EXPECT_EQ(with_id->quote, quote);
}

TEST(QgsMessage, AnyMinorVersionIsAccepted) {
  // Intel's QGS answers 1.1 today; only the major version is a compatibility break.
  Bytes response = encode_get_quote_response(sample_quote());
  response[2] = 1;
  const auto decoded = decode_get_quote_response(response);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->minor_version, 1);
}

TEST(QgsMessage, TruncationAtEveryLengthIsNamed) {
  const Bytes response = encode_get_quote_response(sample_quote(300), Bytes(16, 1));
  ASSERT_TRUE(decode_get_quote_response(response));
  for (std::size_t length = 0; length < response.size(); ++length) {
    const auto result = decode_get_quote_response(ByteView(response).first(length));
    ASSERT_FALSE(result) << length;
    // Shorter than the header: truncated; otherwise header.size no longer matches.
    EXPECT_EQ(error_id(result.error().code), length < kQgsHeaderSize
                                                 ? "tdx_gen.qgs_message_truncated"
                                                 : "tdx_gen.qgs_message_size_mismatch")
        << length;
  }
}

TEST(QgsMessage, TruncatedButSelfConsistentHeaderIsNamed) {
  // header.size says 20 and the message has 20 bytes: the fixed fields are missing.
  Bytes response = encode_get_quote_response(sample_quote());
  response.resize(20);
  put32(response, 8, 20);
  EXPECT_EQ(outcome_id(decode_get_quote_response(response)), "tdx_gen.qgs_message_truncated");
}

TEST(QgsMessage, InconsistentSizesAreNamed) {
  const Bytes good = encode_get_quote_response(sample_quote(), Bytes(16, 2));
  struct Case {
    const char* name;
    std::size_t offset;
    std::uint32_t value;
  };
  for (const Case& c : {
           Case{"header size too large", 8, static_cast<std::uint32_t>(good.size() + 1)},
           Case{"header size too small", 8, static_cast<std::uint32_t>(good.size() - 1)},
           Case{"header size zero", 8, 0},
           Case{"quote_size too large", 20, 601},
           Case{"quote_size too small", 20, 599},
           Case{"selected_id_size too large", 16, 17},
           Case{"quote_size near 2^32", 20, 0xFFFFFFFFU},
           Case{"both sizes wrap a 32-bit sum", 16, 0xFFFFFFF0U},
       }) {
    Bytes bad = good;
    put32(bad, c.offset, c.value);
    EXPECT_EQ(outcome_id(decode_get_quote_response(bad)), "tdx_gen.qgs_message_size_mismatch")
        << c.name;
  }
  // Sizes that sum to the message length modulo 2^32 must not pass either.
  Bytes wrap = good;
  put32(wrap, 16, 0xFFFFFFFFU);
  put32(wrap, 20, static_cast<std::uint32_t>(600 + 16 + 1));
  EXPECT_EQ(outcome_id(decode_get_quote_response(wrap)), "tdx_gen.qgs_message_size_mismatch");
}

TEST(QgsMessage, WrongVersionOrTypeIsNamed) {
  const Bytes good = encode_get_quote_response(sample_quote());
  for (const std::uint8_t major : std::array<std::uint8_t, 3>{0, 2, 0xFF}) {
    Bytes bad = good;
    bad[0] = major;
    EXPECT_EQ(outcome_id(decode_get_quote_response(bad)), "tdx_gen.qgs_message_version_unsupported")
        << int(major);
  }
  for (const std::uint32_t type : {0U, 2U, 3U, 5U, 0x01000000U}) {
    Bytes bad = good;
    put32(bad, 4, type);
    EXPECT_EQ(outcome_id(decode_get_quote_response(bad)), "tdx_gen.qgs_message_type_unexpected")
        << type;
  }
  // A request is not a response, and vice versa.
  const Bytes request = encode_get_quote_request(sample_report());
  EXPECT_EQ(outcome_id(decode_get_quote_response(request)), "tdx_gen.qgs_message_type_unexpected");
  EXPECT_EQ(outcome_id(decode_get_quote_request(good)), "tdx_gen.qgs_message_type_unexpected");
}

TEST(QgsMessage, ErrorResponseCarriesTheCode) {
  // What Intel's QGS sends when it cannot parse the request: QGS_MSG_ERROR_INVALID_SIZE.
  const Bytes error = encode_get_quote_response(sample_quote(), {}, 0x12006);
  ASSERT_EQ(error.size(), 24U);  // no id, no quote
  const auto result = decode_get_quote_response(error);
  ASSERT_FALSE(result);
  EXPECT_EQ(error_id(result.error().code), "tdx_gen.qgs_error_response");
  EXPECT_NE(result.error().detail.find("0x12006"), std::string::npos) << result.error().detail;
  EXPECT_NE(result.error().detail.find("INVALID_SIZE"), std::string::npos);

  // A code from the quote library behind the QGS: named by its value only.
  const auto other = decode_get_quote_response(encode_get_quote_response({}, {}, 0xE011));
  ASSERT_FALSE(other);
  EXPECT_EQ(error_id(other.error().code), "tdx_gen.qgs_error_response");
  EXPECT_NE(other.error().detail.find("0xe011"), std::string::npos) << other.error().detail;

  // A header-only error message (16 bytes) still names the code.
  Bytes header_only(error.begin(), error.begin() + 16);
  put32(header_only, 8, 16);
  EXPECT_EQ(outcome_id(decode_get_quote_response(header_only)), "tdx_gen.qgs_error_response");
}

TEST(QgsMessage, SuccessWithoutQuoteIsNamed) {
  EXPECT_EQ(outcome_id(decode_get_quote_response(encode_get_quote_response({}))),
            "tdx_gen.qgs_quote_empty");
  EXPECT_EQ(outcome_id(decode_get_quote_response(encode_get_quote_response({}, Bytes(16, 3)))),
            "tdx_gen.qgs_quote_empty");
}

TEST(QgsMessage, MalformedRequestsAreNamed) {
  Bytes request = encode_get_quote_request(sample_report());
  put32(request, 16, 0);  // report_size 0, id list of 1024: sizes add up, but no report
  put32(request, 20, 1024);
  EXPECT_EQ(outcome_id(decode_get_quote_request(request)), "tdx_gen.qgs_message_size_mismatch");
  EXPECT_EQ(outcome_id(decode_get_quote_request(ByteView(request).first(10))),
            "tdx_gen.qgs_message_truncated");
}

TEST(QgsMessage, Framing) {
  const Bytes message = sample_quote(0x0102);
  const Bytes framed = frame_qgs_message(message);
  ASSERT_EQ(framed.size(), 4 + message.size());
  EXPECT_EQ(Bytes(framed.begin(), framed.begin() + 4), (Bytes{0, 0, 0x01, 0x02}));
  EXPECT_EQ(read_frame_length(std::span<const std::uint8_t, 4>(framed.data(), 4)), 0x0102U);
  const std::array<std::uint8_t, 4> big{0xFF, 0x00, 0x00, 0x01};
  EXPECT_EQ(read_frame_length(big), 0xFF000001U);
}

TEST(QgsMessage, GetQuoteBufferLayout) {
  const Bytes message = encode_get_quote_request(sample_report());
  const Bytes buffer = encode_get_quote_buffer(message);
  ASSERT_EQ(buffer.size(), kGetQuoteBufferSize);
  const GetQuoteHeader header = read_get_quote_header(buffer);
  EXPECT_EQ(header.version, 1U);
  EXPECT_EQ(header.status, 0U);
  EXPECT_EQ(header.in_len, 4 + message.size());
  EXPECT_EQ(header.out_len, 0U);
  EXPECT_EQ(read_frame_length(std::span<const std::uint8_t, 4>(buffer.data() + 24, 4)),
            message.size());
  EXPECT_TRUE(std::equal(message.begin(), message.end(), buffer.begin() + 28));
  EXPECT_TRUE(std::all_of(buffer.begin() + 28 + static_cast<long>(message.size()), buffer.end(),
                          [](std::uint8_t byte) { return byte == 0; }));
}

// A buffer as the host returns it: header with out_len, then `payload`.
Bytes host_buffer(const Bytes& payload, std::uint32_t out_len, std::size_t size = 4096) {
  Bytes buffer(size, 0);
  buffer[0] = 1;
  put32(buffer, 20, out_len);
  std::copy(payload.begin(), payload.end(), buffer.begin() + 24);
  return buffer;
}

TEST(QgsMessage, GetQuoteBufferMessage) {
  const Bytes response = encode_get_quote_response(sample_quote());
  const Bytes framed = frame_qgs_message(response);
  const Bytes returned = host_buffer(framed, static_cast<std::uint32_t>(framed.size()));
  const auto good = get_quote_buffer_message(returned);  // a view into `returned`
  ASSERT_TRUE(good) << good.error().describe();
  EXPECT_TRUE(std::equal(good->begin(), good->end(), response.begin(), response.end()));

  const auto invalid = [](const Bytes& buffer) {
    return outcome_id(get_quote_buffer_message(buffer));
  };
  const std::string named = "tdx_gen.device_quote_response_invalid";
  const auto size = static_cast<std::uint32_t>(framed.size());
  EXPECT_EQ(invalid(host_buffer(framed, size + 1)), named);  // prefix + message ≠ out_len
  EXPECT_EQ(invalid(host_buffer(framed, size - 1)), named);
  EXPECT_EQ(invalid(host_buffer(framed, 3)), named);  // no room for the prefix
  EXPECT_EQ(invalid(host_buffer(framed, 0)), named);
  EXPECT_EQ(invalid(host_buffer(framed, 4096 - 24 + 1)), named);  // beyond the buffer
  EXPECT_EQ(invalid(host_buffer(framed, 0xFFFFFFFFU)), named);
  Bytes huge_prefix = framed;
  huge_prefix[0] = 0xFF;  // length prefix of ~4 GiB with out_len unchanged
  EXPECT_EQ(invalid(host_buffer(huge_prefix, size)), named);
  EXPECT_EQ(invalid(Bytes(23, 0)), named);
}

TEST(QgsMessage, StatusNames) {
  EXPECT_EQ(get_quote_status_name(kGetQuoteInFlight), "GET_QUOTE_IN_FLIGHT");
  EXPECT_EQ(get_quote_status_name(kGetQuoteError), "GET_QUOTE_ERROR");
  EXPECT_EQ(get_quote_status_name(kGetQuoteServiceUnavailable), "GET_QUOTE_SERVICE_UNAVAILABLE");
  EXPECT_EQ(get_quote_status_name(0x8000000000000002ULL), "status 0x8000000000000002");
}

}  // namespace
}  // namespace qgs_message_test
}  // namespace atls::attest::tdx_gen
