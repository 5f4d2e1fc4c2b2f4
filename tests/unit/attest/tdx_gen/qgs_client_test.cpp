// The QGS socket client (attest/tdx_gen/qgs_client.h) against the fake QGS of
// tests/support/fake_qgs.h on a unix socket and on an ephemeral 127.0.0.1 port, with the
// INSECURE mock TDX quoting service behind it. The real QGS listens on vsock, which has no
// loopback to a user-space server on this machine: vsock is exercised only as far as a connect
// to the (absent) host service. No TEE hardware is involved.
#include "attest/tdx_gen/qgs_client.h"

#include <gtest/gtest.h>

#include "attest/mock/tdx_mock.h"
#include "attest/tdx/quote.h"
#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"
#include "support/fake_qgs.h"
#include "support/fake_tdx_guest.h"
#include "support/process.h"

namespace atls::attest::tdx_gen {
namespace qgs_client_test {
namespace {

using atls::testing::FakeQgs;
using atls::testing::FakeQgsReply;
using atls::testing::FakeTdxGuestDevice;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

std::shared_ptr<const mock::MockTdxAttester> quoting_service() {
  static const std::shared_ptr<const mock::MockTdxAttester> shared = [] {
    auto pki = mock::MockTdxPki::create(kNow);
    EXPECT_TRUE(pki) << (pki ? "" : pki.error().describe());
    auto service = mock::MockTdxAttester::create(*pki);
    EXPECT_TRUE(service);
    return std::shared_ptr<const mock::MockTdxAttester>(*service);
  }();
  return shared;
}

ReportData client_binding(std::uint8_t seed) {
  ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(seed + 3 * i);
  }
  return data;
}

QgsClientOptions client_options(const std::string& address) {
  QgsClientOptions options;
  auto parsed = parse_qgs_address(address);
  EXPECT_TRUE(parsed) << address;
  if (parsed) {
    options.address = *parsed;
  }
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.io_timeout = std::chrono::milliseconds(5000);
  return options;
}

template <class T>
std::string result_id(const Outcome<T>& result) {
  return result ? "ok" : error_id(result.error().code);
}

TEST(QgsClient, AddressParsing) {
  struct Good {
    const char* text;
    QgsAddress::Family family;
  };
  for (const Good& good : {Good{"vsock:2:4050", QgsAddress::Family::Vsock},
                           Good{"vsock:4294967295:1", QgsAddress::Family::Vsock},
                           Good{"unix:/run/qgs.sock", QgsAddress::Family::Unix},
                           Good{"unix:relative.sock", QgsAddress::Family::Unix},
                           Good{"tcp:127.0.0.1:4050", QgsAddress::Family::Tcp}}) {
    const auto parsed = parse_qgs_address(good.text);
    ASSERT_TRUE(parsed) << good.text << ": " << parsed.error().describe();
    EXPECT_EQ(parsed->family, good.family) << good.text;
    EXPECT_EQ(parsed->to_string(), good.text);  // the text form round-trips
  }
  const auto vsock = parse_qgs_address("vsock:3:5000");
  ASSERT_TRUE(vsock);
  EXPECT_EQ(vsock->cid, 3U);
  EXPECT_EQ(vsock->port, 5000U);
  EXPECT_EQ(QgsAddress{}.to_string(), kDefaultQgsAddress);

  for (const char* bad : {"",
                          "vsock",
                          "vsock:",
                          "vsock:2",
                          "vsock:2:",
                          "vsock::4050",
                          "vsock:-2:4050",
                          "vsock:+2:4050",
                          "vsock:2:4050:1",
                          "vsock: 2:4050",
                          "vsock:4294967296:1",
                          "vsock:0x2:4050",
                          "unix:",
                          "tcp:127.0.0.1",
                          "tcp:127.0.0.1:0",
                          "tcp:127.0.0.1:65536",
                          "tcp:localhost:4050",
                          "tcp:[::1]:4050",
                          "tcp::4050",
                          "http://127.0.0.1:4050",
                          "VSOCK:2:4050",
                          " vsock:2:4050"}) {
    EXPECT_EQ(result_id(parse_qgs_address(bad)), "tdx_gen.qgs_address_invalid") << bad;
  }
  EXPECT_EQ(result_id(parse_qgs_address("unix:/" + std::string(200, 'a'))),
            "tdx_gen.qgs_address_invalid");
  EXPECT_EQ(result_id(parse_qgs_address(std::string("unix:/a\0b", 9))),
            "tdx_gen.qgs_address_invalid");
}

class QgsClientTest : public ::testing::TestWithParam<FakeQgs::Transport> {};

TEST_P(QgsClientTest, QuoteForTheTdReport) {
  ASSERT_TRUE(quoting_service());
  FakeQgs qgs(atls::testing::mock_qgs_handler(quoting_service()), GetParam());
  ASSERT_TRUE(qgs.ok()) << qgs.error();
  const ReportData data = client_binding(1);
  const auto quote =
      qgs_get_quote(client_options(qgs.address()), FakeTdxGuestDevice::make_report(data));
  ASSERT_TRUE(quote) << quote.error().describe();
  const auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_TRUE(std::equal(data.begin(), data.end(), parsed->body.report_data.begin()));
  // The QGS saw exactly our GET_QUOTE_REQ.
  const auto requests = qgs.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0], encode_get_quote_request(FakeTdxGuestDevice::make_report(data)));
}

INSTANTIATE_TEST_SUITE_P(Transports, QgsClientTest,
                         ::testing::Values(FakeQgs::Transport::Unix, FakeQgs::Transport::Tcp));

TEST(QgsClient, ServerFailuresAreNamed) {
  const TdReport report = FakeTdxGuestDevice::make_report(client_binding(2));
  const auto answer = [&report](FakeQgsReply reply, std::chrono::milliseconds io_timeout =
                                                        std::chrono::milliseconds(5000)) {
    FakeQgs qgs([reply](const Bytes&) { return reply; });
    EXPECT_TRUE(qgs.ok()) << qgs.error();
    auto options = client_options(qgs.address());
    options.io_timeout = io_timeout;
    return qgs_get_quote(options, report);
  };

  FakeQgsReply closed;
  closed.close_without_reply = true;
  const auto lost = answer(closed);
  EXPECT_EQ(result_id(lost), "tdx_gen.qgs_io_failed");
  EXPECT_NE(lost.error().detail.find("closed after 0 of 4 bytes"), std::string::npos)
      << lost.error().detail;

  FakeQgsReply slow;
  slow.message = encode_get_quote_response(Bytes(100, 1));
  slow.delay = std::chrono::milliseconds(3000);
  EXPECT_EQ(result_id(answer(slow, std::chrono::milliseconds(200))), "tdx_gen.qgs_timeout");

  FakeQgsReply huge;
  huge.raw = Bytes{0x00, 0x10, 0x00, 0x01};  // 1 MiB + 1 announced
  const auto too_large = answer(huge);
  EXPECT_EQ(result_id(too_large), "tdx_gen.qgs_response_too_large");

  FakeQgsReply short_body;
  short_body.raw = frame_qgs_message(encode_get_quote_response(Bytes(100, 1)));
  short_body.raw->resize(short_body.raw->size() - 10);  // then the server closes
  const auto cut = answer(short_body);
  EXPECT_EQ(result_id(cut), "tdx_gen.qgs_io_failed");
  EXPECT_NE(cut.error().detail.find("of 124 bytes"), std::string::npos) << cut.error().detail;

  FakeQgsReply refused;
  refused.message = encode_get_quote_response({}, {}, 0x12004);  // QGS_MSG_ERROR_INVALID_VERSION
  const auto error = answer(refused);
  EXPECT_EQ(result_id(error), "tdx_gen.qgs_error_response");
  EXPECT_NE(error.error().detail.find("INVALID_VERSION"), std::string::npos);

  FakeQgsReply garbage;
  garbage.message = Bytes(40, 0xEE);
  EXPECT_EQ(result_id(answer(garbage)), "tdx_gen.qgs_message_version_unsupported");

  FakeQgsReply empty;
  empty.raw = Bytes{0, 0, 0, 0};  // a zero-length message
  EXPECT_EQ(result_id(answer(empty)), "tdx_gen.qgs_message_truncated");
}

TEST(QgsClient, NoServer) {
  const atls::testing::TempDir dir;
  const TdReport report = FakeTdxGuestDevice::make_report(client_binding(3));
  const auto missing = qgs_get_quote(client_options("unix:" + dir.path() + "/none.sock"), report);
  EXPECT_EQ(result_id(missing), "tdx_gen.qgs_connect_failed");
  EXPECT_NE(missing.error().detail.find("none.sock"), std::string::npos);

  // The default address: host CID 2, port 4050. Here there is no QGS (and maybe no vsock at
  // all): the kernel refuses or the connect times out, but nothing is ever answered.
  auto options = client_options(std::string(kDefaultQgsAddress));
  options.connect_timeout = std::chrono::milliseconds(300);
  const auto vsock = qgs_get_quote(options, report);
  ASSERT_FALSE(vsock);
  const std::string id = error_id(vsock.error().code);
  EXPECT_TRUE(id == "tdx_gen.qgs_connect_failed" || id == "tdx_gen.qgs_timeout")
      << vsock.error().describe();
  EXPECT_NE(vsock.error().detail.find("vsock:2:4050"), std::string::npos);
}

}  // namespace
}  // namespace qgs_client_test
}  // namespace atls::attest::tdx_gen
