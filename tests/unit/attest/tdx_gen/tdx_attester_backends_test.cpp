// TdxAttester without configfs-tsm (docs/verification.md §5.3): the /dev/tdx_guest paths
// (TDX_CMD_GET_REPORT0 + TDX_CMD_GET_QUOTE) and the QGS socket, and the Auto backend order,
// against a fake TdxGuestDevice (tests/support/fake_tdx_guest.h) and a fake QGS on a unix socket
// (tests/support/fake_qgs.h), both answering with quotes of the INSECURE mock TDX quoting
// service that the production TdxVerifier then verifies trusting only the mock root. One test
// serves a real TDX quote from the shared test data. No TEE hardware, no real kernel interface
// and no real QGS are involved.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "attest/mock/tdx_mock.h"
#include "attest/tdx/quote.h"
#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"
#include "attest/tdx_gen/tdx_attester.h"
#include "support/fake_configfs_tsm.h"
#include "support/fake_qgs.h"
#include "support/fake_tdx_guest.h"
#include "support/process.h"
#include "support/testdata.h"

namespace atls::attest::tdx_gen {
namespace tdx_backends_test {
namespace {

using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakeQgs;
using atls::testing::FakeQgsHandler;
using atls::testing::FakeQgsReply;
using atls::testing::FakeTdxGuestDevice;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

mock::MockTdxPkiPtr shared_pki() {
  static const mock::MockTdxPkiPtr shared = [] {
    auto created = mock::MockTdxPki::create(kNow);
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }();
  return shared;
}

std::shared_ptr<const mock::MockTdxAttester> shared_service() {
  static const std::shared_ptr<const mock::MockTdxAttester> shared = [] {
    auto created = mock::MockTdxAttester::create(shared_pki());
    EXPECT_TRUE(created);
    return created ? std::shared_ptr<const mock::MockTdxAttester>(*created) : nullptr;
  }();
  return shared;
}

ReportData data_for(std::uint8_t seed) {
  ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(std::size_t{seed} * 11 + i);
  }
  return data;
}

std::string result_of(const Outcome<Bytes>& result) {
  return result ? "ok" : error_id(result.error().code);
}

class TdxAttesterBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_pki());
    ASSERT_TRUE(shared_service());
  }

  FakeQgsHandler mock_handler() const { return atls::testing::mock_qgs_handler(shared_service()); }

  // A device whose kernel has TDX_CMD_GET_QUOTE, backed by the mock quoting service.
  std::shared_ptr<FakeTdxGuestDevice> quoting_device() const {
    return std::make_shared<FakeTdxGuestDevice>(mock_handler());
  }
  // A device whose kernel has only TDX_CMD_GET_REPORT0 (upstream 6.2–6.6).
  static std::shared_ptr<FakeTdxGuestDevice> report_only_device(int error = ENOTTY) {
    return std::make_shared<FakeTdxGuestDevice>(nullptr, error);
  }

  void start_qgs(FakeQgsHandler handler = nullptr) {
    qgs_ = std::make_unique<FakeQgs>(handler ? std::move(handler) : mock_handler());
    ASSERT_TRUE(qgs_->ok()) << qgs_->error();
  }

  void start_tsm(const std::string& provider = "tdx_guest", bool fail = false) {
    FakeConfigfsTsmOptions options;
    options.provider = provider;
    options.privlevel = false;
    options.auxblob = false;
    tsm_ = std::make_unique<FakeConfigfsTsm>(
        dir_.path(),
        [fail](const FakeTsmRequest& request) {
          FakeTsmResponse response;
          if (fail) {
            response.read_error = true;
            return response;
          }
          ReportData data{};
          std::copy_n(request.inblob.begin(), std::min(request.inblob.size(), data.size()),
                      data.begin());
          response.outblob = shared_service()->generate(data).value();
          return response;
        },
        options);
    ASSERT_TRUE(tsm_->ok()) << tsm_->error();
  }

  TdxAttesterOptions options(std::shared_ptr<FakeTdxGuestDevice> device,
                             TdxBackend backend = TdxBackend::Auto) const {
    TdxAttesterOptions o;
    o.backend = backend;
    o.tsm.root = tsm_ ? tsm_->root() : std::filesystem::path(dir_.path()) / "no-tsm";
    o.device = std::move(device);
    o.device_path = std::filesystem::path(dir_.path()) / "tdx_guest";  // named in details
    o.qgs.address =
        parse_qgs_address(qgs_ ? qgs_->address() : "unix:" + dir_.path() + "/no-qgs.sock").value();
    o.qgs.io_timeout = std::chrono::milliseconds(5000);
    o.retry_delay = std::chrono::milliseconds(1);
    o.device_busy_delay = std::chrono::milliseconds(1);
    return o;
  }

  static std::shared_ptr<TdxAttester> make(TdxAttesterOptions o) {
    auto created = TdxAttester::create(std::move(o));
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }

  static void expect_verifies(const Outcome<Bytes>& quote, const ReportData& data) {
    ASSERT_TRUE(quote) << quote.error().describe();
    const auto claims =
        shared_pki()->make_verifier()->verify(AttestationType::DcapTdx, *quote, data, kNow);
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->report_data, data);
  }

  std::size_t qgs_connections() const { return qgs_ ? qgs_->connections() : 0; }

  atls::testing::TempDir dir_;
  std::unique_ptr<FakeQgs> qgs_;
  std::unique_ptr<FakeConfigfsTsm> tsm_;
};

TEST_F(TdxAttesterBackendsTest, AutoWithoutConfigfsTsmUsesDeviceGetQuote) {
  start_qgs();
  const auto device = quoting_device();
  const auto attester = make(options(device));
  ASSERT_TRUE(attester);
  EXPECT_EQ(attester->last_backend(), TdxBackend::Auto);
  const auto quote = attester->generate_evidence(data_for(1));
  expect_verifies(quote, data_for(1));
  EXPECT_EQ(attester->last_backend(), TdxBackend::DeviceQuote);
  ASSERT_EQ(device->reports().size(), 1U);
  EXPECT_EQ(device->reports()[0], data_for(1));  // the TDREPORT was over our report data
  EXPECT_EQ(device->quote_calls(), 1U);
  EXPECT_EQ(qgs_connections(), 0U);  // the socket is not touched when the ioctl works
}

TEST_F(TdxAttesterBackendsTest, AutoWithoutGetQuoteAsksTheQgs) {
  for (const int unsupported : {ENOTTY, EINVAL}) {
    start_qgs();
    const auto device = report_only_device(unsupported);
    const auto attester = make(options(device));
    const auto quote = attester->generate_evidence(data_for(2));
    expect_verifies(quote, data_for(2));
    EXPECT_EQ(attester->last_backend(), TdxBackend::Qgs);
    EXPECT_EQ(device->quote_calls(), 1U);
    const auto requests = qgs_->requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0], encode_get_quote_request(FakeTdxGuestDevice::make_report(data_for(2))));
  }
}

TEST_F(TdxAttesterBackendsTest, AutoPrefersConfigfsTsm) {
  start_tsm();
  start_qgs();
  const auto device = quoting_device();
  const auto attester = make(options(device));
  expect_verifies(attester->generate_evidence(data_for(3)), data_for(3));
  EXPECT_EQ(attester->last_backend(), TdxBackend::ConfigfsTsm);
  EXPECT_TRUE(device->reports().empty());
  EXPECT_EQ(qgs_connections(), 0U);
}

TEST_F(TdxAttesterBackendsTest, AutoDoesNotFallBackOnAnotherTee) {
  // Another configfs-tsm provider means another TEE: the device is not tried.
  start_tsm("sev_guest");
  const auto device = quoting_device();
  const auto result = make(options(device))->generate_evidence(data_for(4));
  EXPECT_EQ(result_of(result), "tsm.provider_mismatch");
  EXPECT_TRUE(device->reports().empty());
}

TEST_F(TdxAttesterBackendsTest, AutoDoesNotFallBackAfterAConfigfsTsmGenerationFailure) {
  // configfs-tsm exists and its quoting service fails: the device path would reach the same
  // service, so the failure is reported (after the retries), not hidden by a fallback.
  start_tsm("tdx_guest", /*fail=*/true);
  start_qgs();
  const auto device = quoting_device();
  const auto result = make(options(device))->generate_evidence(data_for(5));
  EXPECT_EQ(result_of(result), "tsm.outblob_read_failed");
  EXPECT_NE(result.error().detail.find("after 3 attempts"), std::string::npos);
  EXPECT_TRUE(device->reports().empty());
  EXPECT_EQ(qgs_connections(), 0U);
}

TEST_F(TdxAttesterBackendsTest, AutoWithNothingIsUnavailable) {
  TdxAttesterOptions o = options(nullptr);  // the Linux device at a path that does not exist
  const auto result = make(o)->generate_evidence(data_for(6));
  EXPECT_EQ(result_of(result), "tdx_gen.generation_unavailable");
  EXPECT_NE(result.error().detail.find("no-tsm"), std::string::npos) << result.error().detail;
  EXPECT_NE(result.error().detail.find("tdx_guest"), std::string::npos) << result.error().detail;
}

TEST_F(TdxAttesterBackendsTest, LinuxDeviceThatIsNoTdxGuest) {
  // /dev/null is a character device (so Auto takes the device path) whose ioctls all fail:
  // the real open()/ioctl() code runs, and the failure names TDX_CMD_GET_REPORT0.
  TdxAttesterOptions o = options(nullptr);
  o.device_path = "/dev/null";
  const auto result = make(o)->generate_evidence(data_for(7));
  EXPECT_EQ(result_of(result), "tdx_gen.device_report_failed");
  EXPECT_NE(result.error().detail.find("/dev/null: TDX_CMD_GET_REPORT0"), std::string::npos)
      << result.error().detail;
  EXPECT_EQ(qgs_connections(), 0U);

  // A device that cannot be opened.
  o.backend = TdxBackend::DeviceQuote;
  o.device_path = std::filesystem::path(dir_.path()) / "missing";
  const auto missing = make(o)->generate_evidence(data_for(7));
  EXPECT_EQ(result_of(missing), "tdx_gen.device_open_failed");
  EXPECT_NE(missing.error().detail.find("missing"), std::string::npos);
}

TEST_F(TdxAttesterBackendsTest, ExplicitBackendsUseOnePathOnly) {
  start_qgs();
  // ConfigfsTsm: no fallback to the device.
  const auto device = quoting_device();
  EXPECT_EQ(
      result_of(make(options(device, TdxBackend::ConfigfsTsm))->generate_evidence(data_for(8))),
      "tsm.unavailable");
  EXPECT_TRUE(device->reports().empty());

  // DeviceQuote on a kernel without the ioctl: named, no QGS.
  const auto report_only = report_only_device();
  const auto unsupported =
      make(options(report_only, TdxBackend::DeviceQuote))->generate_evidence(data_for(8));
  EXPECT_EQ(result_of(unsupported), "tdx_gen.device_quote_unsupported");
  EXPECT_EQ(qgs_connections(), 0U);

  // Qgs even though the kernel has the ioctl.
  const auto attester = make(options(device, TdxBackend::Qgs));
  expect_verifies(attester->generate_evidence(data_for(9)), data_for(9));
  EXPECT_EQ(attester->last_backend(), TdxBackend::Qgs);
  EXPECT_EQ(device->quote_calls(), 0U);
  EXPECT_EQ(device->reports().size(), 1U);
  EXPECT_EQ(qgs_connections(), 1U);

  EXPECT_EQ(to_string(TdxBackend::Auto), "auto");
  EXPECT_EQ(to_string(TdxBackend::DeviceQuote), "device-quote");
}

TEST_F(TdxAttesterBackendsTest, DeviceReportFailureStopsEverything) {
  start_qgs();
  const auto device = report_only_device();
  device->inject_report_failure(EIO);
  const auto result = make(options(device))->generate_evidence(data_for(10));
  EXPECT_EQ(result_of(result), "tdx_gen.device_report_failed");
  EXPECT_EQ(device->quote_calls(), 0U);
  EXPECT_EQ(qgs_connections(), 0U);
}

TEST_F(TdxAttesterBackendsTest, GetQuoteStatusesAreNamedAndNeverFallBack) {
  start_qgs();
  struct Case {
    std::uint64_t status;
    const char* error;
    std::size_t calls;  // 1 + quote_retries for the quoting service's failures
  };
  for (const Case& c :
       {Case{kGetQuoteError, "tdx_gen.device_quote_status_error", 3},
        Case{kGetQuoteServiceUnavailable, "tdx_gen.device_quote_service_unavailable", 3},
        Case{0x8000000000000002ULL, "tdx_gen.device_quote_status_error", 3}}) {
    const auto device = quoting_device();
    device->inject_status(c.status, 10);
    const auto result = make(options(device))->generate_evidence(data_for(11));
    EXPECT_EQ(result_of(result), c.error) << c.status;
    EXPECT_EQ(device->quote_calls(), c.calls) << c.status;
    EXPECT_NE(result.error().detail.find("after 3 attempts"), std::string::npos);
  }
  EXPECT_EQ(qgs_connections(), 0U);

  // A transient failure passes on a later attempt.
  const auto device = quoting_device();
  device->inject_status(kGetQuoteServiceUnavailable, 2);
  expect_verifies(make(options(device))->generate_evidence(data_for(12)), data_for(12));
  EXPECT_EQ(device->quote_calls(), 3U);
}

TEST_F(TdxAttesterBackendsTest, InFlightIsReissuedThenNamed) {
  const auto device = quoting_device();
  device->inject_status(kGetQuoteInFlight, 2);
  device->inject_quote_errno(EBUSY, 1);
  const auto attester = make(options(device));
  expect_verifies(attester->generate_evidence(data_for(13)), data_for(13));
  EXPECT_EQ(device->quote_calls(), 4U);
  EXPECT_EQ(device->reports().size(), 1U);  // reissued with the same TDREPORT

  const auto stuck = quoting_device();
  stuck->inject_status(kGetQuoteInFlight, 100);
  auto o = options(stuck);
  o.device_busy_retries = 3;
  const auto result = make(o)->generate_evidence(data_for(13));
  EXPECT_EQ(result_of(result), "tdx_gen.device_quote_in_flight");
  EXPECT_NE(result.error().detail.find("after 4 attempts"), std::string::npos)
      << result.error().detail;
  EXPECT_EQ(stuck->quote_calls(), 4U);  // not retried again from the outside
}

TEST_F(TdxAttesterBackendsTest, GetQuoteErrnoIsNamed) {
  start_qgs();
  const auto device = quoting_device();
  device->inject_quote_errno(EIO, 1);
  const auto result = make(options(device))->generate_evidence(data_for(14));
  EXPECT_EQ(result_of(result), "tdx_gen.device_quote_failed");
  EXPECT_EQ(device->quote_calls(), 1U);
  EXPECT_EQ(qgs_connections(), 0U);
}

TEST_F(TdxAttesterBackendsTest, MalformedDeviceAnswersAreNamed) {
  const auto answer = [this](Bytes payload, std::uint32_t out_len) {
    const auto device = quoting_device();
    device->inject_payload(std::move(payload), out_len);
    return result_of(make(options(device))->generate_evidence(data_for(15)));
  };
  const Bytes response = encode_get_quote_response(Bytes(200, 7));
  const Bytes framed = frame_qgs_message(response);
  const auto size = static_cast<std::uint32_t>(framed.size());
  EXPECT_EQ(answer(framed, size + 8), "tdx_gen.device_quote_response_invalid");
  EXPECT_EQ(answer(framed, 2), "tdx_gen.device_quote_response_invalid");
  EXPECT_EQ(answer(framed, 0xFFFFFFFFU), "tdx_gen.device_quote_response_invalid");
  // A consistent frame around a bad message: the QGS decoder names it.
  Bytes bad_version = response;
  bad_version[0] = 9;
  EXPECT_EQ(answer(frame_qgs_message(bad_version), size),
            "tdx_gen.qgs_message_version_unsupported");
  EXPECT_EQ(answer(frame_qgs_message(encode_get_quote_response({}, {}, 0x12005)), 28),
            "tdx_gen.qgs_error_response");
  // A well-formed message around garbage: the generated-quote check names it.
  EXPECT_EQ(answer(framed, size), "tdx_gen.generated_quote_invalid");
}

TEST_F(TdxAttesterBackendsTest, QgsFailuresAreNamed) {
  // No QGS listening: connection failures are retried, then named with the reason for the QGS.
  const auto device = report_only_device();
  const auto refused = make(options(device))->generate_evidence(data_for(16));
  EXPECT_EQ(result_of(refused), "tdx_gen.qgs_connect_failed");
  EXPECT_NE(refused.error().detail.find("after 3 attempts"), std::string::npos);
  EXPECT_NE(refused.error().detail.find("no TDX_CMD_GET_QUOTE"), std::string::npos)
      << refused.error().detail;
  EXPECT_EQ(device->reports().size(), 3U);

  // A QGS error response is not retried.
  start_qgs([](const Bytes&) {
    FakeQgsReply reply;
    reply.message = encode_get_quote_response({}, {}, 0x12003);
    return reply;
  });
  const auto error = make(options(report_only_device()))->generate_evidence(data_for(16));
  EXPECT_EQ(result_of(error), "tdx_gen.qgs_error_response");
  EXPECT_EQ(qgs_->connections(), 1U);
}

TEST_F(TdxAttesterBackendsTest, QgsQuoteForOtherReportDataIsRejected) {
  start_qgs([](const Bytes& request) {
    auto report = decode_get_quote_request(request).value();
    report[kTdReportDataOffset] ^= 0x01;  // a quote over someone else's TDREPORT
    ReportData other{};
    std::copy_n(report.begin() + kTdReportDataOffset, other.size(), other.begin());
    FakeQgsReply reply;
    reply.message = encode_get_quote_response(shared_service()->generate(other).value());
    return reply;
  });
  const auto result = make(options(report_only_device()))->generate_evidence(data_for(17));
  EXPECT_EQ(result_of(result), "tdx_gen.generated_report_data_mismatch");
}

TEST_F(TdxAttesterBackendsTest, RealQuoteThroughTheQgs) {
  ATLS_REQUIRE_TESTDATA();
  // A real TDX quote (dcap-qvl vector, 70 bytes of padding) served by the fake QGS: the bytes
  // come back unchanged and the attester accepts it for exactly the quote's REPORTDATA.
  const Bytes real = atls::testing::read_bytes(atls::testing::testdata_path("dcap-qvl/tdx_quote"));
  ASSERT_FALSE(real.empty());
  const auto parsed = tdx::parse_quote(real);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ReportData expected{};
  std::copy(parsed->body.report_data.begin(), parsed->body.report_data.end(), expected.begin());
  EXPECT_EQ(expected[0], 0x9a);  // VECTORS.md: REPORTDATA 9a9d48e7…
  start_qgs([real](const Bytes&) {
    FakeQgsReply reply;
    reply.message = encode_get_quote_response(real);
    return reply;
  });
  const auto attester = make(options(report_only_device()));
  const auto quote = attester->generate_evidence(expected);
  ASSERT_TRUE(quote) << quote.error().describe();
  EXPECT_EQ(*quote, real);
  EXPECT_EQ(result_of(attester->generate_evidence(data_for(18))),
            "tdx_gen.generated_report_data_mismatch");
}

TEST_F(TdxAttesterBackendsTest, ConcurrentQgsRequestsEachGetTheirOwnQuote) {
  start_qgs();
  const auto attester = make(options(report_only_device()));
  std::vector<Outcome<Bytes>> results(4, Failure{});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&attester, &results, i] {
      results[i] = attester->generate_evidence(data_for(static_cast<std::uint8_t>(30 + i)));
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    expect_verifies(results[i], data_for(static_cast<std::uint8_t>(30 + i)));
  }
  EXPECT_EQ(qgs_->connections(), 4U);
}

}  // namespace
}  // namespace tdx_backends_test
}  // namespace atls::attest::tdx_gen
