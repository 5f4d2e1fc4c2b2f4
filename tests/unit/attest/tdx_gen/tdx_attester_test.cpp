// TdxAttester end to end: quotes generated through the fake configfs-tsm
// (tests/support/fake_configfs_tsm.h, provider "tdx_guest", no privlevel, no auxblob) by an
// INSECURE MOCK quoting service (attest/mock/tdx_mock.h), then verified by the production
// TdxVerifier trusting only the mock root. Also every check of the generated quote, and the
// configfs-tsm failures a TD can meet. No TEE hardware is involved.
#include "attest/tdx_gen/tdx_attester.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "attest/mock/tdx_mock.h"
#include "attest/tdx/quote.h"
#include "attest/tdx_gen/errors.h"
#include "attest/tsm/errors.h"
#include "support/fake_configfs_tsm.h"
#include "support/process.h"

namespace atls::attest::tdx_gen {
namespace {

using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakeTsmGenerator;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;
using mock::MockTdxAttester;
using mock::MockTdxPki;
using mock::MockTdxPkiPtr;
using mock::MockTdxQuoteOptions;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

// One mock PKI per process: its RSA/ECDSA keys are slow to generate.
MockTdxPkiPtr pki() {
  static const MockTdxPkiPtr shared = [] {
    auto created = MockTdxPki::create(kNow);
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }();
  return shared;
}

std::shared_ptr<MockTdxAttester> quoting_service(MockTdxQuoteOptions options = {}) {
  auto created = MockTdxAttester::create(pki(), options);
  EXPECT_TRUE(created) << (created ? "" : created.error().describe());
  return created ? *created : nullptr;
}

ReportData binding(std::uint8_t seed) {
  ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(std::size_t{seed} * 5 + i);
  }
  return data;
}

ReportData to_report_data(const Bytes& inblob) {
  ReportData data{};
  std::copy_n(inblob.begin(), std::min(inblob.size(), data.size()), data.begin());
  return data;
}

Bytes mint(const MockTdxAttester& service, const ReportData& data) {
  auto quote = service.generate(data);
  EXPECT_TRUE(quote);
  return quote ? *quote : Bytes{};
}

std::string outcome(const Outcome<Bytes>& result) {
  return result ? "ok" : error_id(result.error().code);
}

FakeConfigfsTsmOptions tdx_guest() {
  FakeConfigfsTsmOptions options;
  options.provider = "tdx_guest";
  options.privlevel = false;  // tdx_guest has neither privlevel nor auxblob
  options.auxblob = false;
  return options;
}

class TdxAttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki());
    service_ = quoting_service();
    ASSERT_TRUE(service_);
  }

  // The mock host: the quote for exactly what the TD wrote to inblob.
  FakeTsmGenerator honest_host() {
    return [this](const FakeTsmRequest& request) {
      FakeTsmResponse response;
      if (request.inblob.size() != 64) {
        response.read_error = true;  // tdx_report_new(): inblob must be 64 bytes
        return response;
      }
      response.outblob = mint(*service_, to_report_data(request.inblob));
      return response;
    };
  }

  void start_tsm(FakeTsmGenerator generator = nullptr,
                 FakeConfigfsTsmOptions options = tdx_guest()) {
    if (!generator) {
      generator = honest_host();
    }
    fake_ = std::make_unique<FakeConfigfsTsm>(dir_.path(), std::move(generator), options);
    ASSERT_TRUE(fake_->ok()) << fake_->error();
  }

  TdxAttesterOptions options(AttestationType type = AttestationType::DcapTdx) const {
    TdxAttesterOptions o;
    o.type = type;
    o.tsm.root = fake_ ? fake_->root() : std::filesystem::path(dir_.path()) / "no-tsm";
    o.device_path = std::filesystem::path(dir_.path()) / "no-tdx-guest";
    o.retry_delay = std::chrono::milliseconds(1);
    return o;
  }

  static std::shared_ptr<TdxAttester> make(TdxAttesterOptions o) {
    auto created = TdxAttester::create(std::move(o));
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }

  static void expect_verifies(const Bytes& quote, const ReportData& data,
                              AttestationType type = AttestationType::DcapTdx) {
    const auto claims = pki()->make_verifier()->verify(type, quote, data, kNow);
    ASSERT_TRUE(claims) << describe(claims.error());
    EXPECT_EQ(claims->type, type);
    EXPECT_EQ(claims->report_data, data);
  }

  atls::testing::TempDir dir_;
  std::shared_ptr<MockTdxAttester> service_;
  std::unique_ptr<FakeConfigfsTsm> fake_;
};

TEST_F(TdxAttesterTest, ConfigfsTsmQuoteVerifies) {
  start_tsm();
  const auto attester = make(options());
  ASSERT_TRUE(attester);
  EXPECT_EQ(attester->type(), AttestationType::DcapTdx);
  EXPECT_EQ(attester->options().tsm.expected_provider, "tdx_guest");
  const auto quote = attester->generate_evidence(binding(1));
  ASSERT_TRUE(quote) << quote.error().describe();
  expect_verifies(*quote, binding(1));
  const auto second = attester->generate(binding(2));
  ASSERT_TRUE(second);
  expect_verifies(*second, binding(2));
  // The kernel saw exactly our report data, no privlevel was written, no entry is left.
  const auto requests = fake_->requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(to_report_data(requests[0].inblob), binding(1));
  EXPECT_EQ(requests[0].inblob.size(), 64U);
  EXPECT_FALSE(requests[0].privlevel);
  EXPECT_TRUE(std::filesystem::is_empty(fake_->root()));
  EXPECT_EQ(fake_->entries_created(), 2U);
}

TEST_F(TdxAttesterTest, TheTypeOnlyLabelsTheQuote) {
  start_tsm();
  for (const auto type : {AttestationType::GcpTdx, AttestationType::QemuTdx}) {
    const auto attester = make(options(type));
    ASSERT_TRUE(attester);
    EXPECT_EQ(attester->type(), type);
    const auto quote = attester->generate_evidence(binding(3));
    ASSERT_TRUE(quote) << quote.error().describe();
    expect_verifies(*quote, binding(3), type);
  }
  for (const auto type : {AttestationType::None, AttestationType::AzureTdx, AttestationType::SevSnp,
                          AttestationType::GcpSnp}) {
    const auto created = TdxAttester::create(options(type));
    ASSERT_FALSE(created);
    EXPECT_EQ(error_id(created.error().code), "tdx_gen.unsupported_attestation_type");
  }
}

TEST_F(TdxAttesterTest, V5QuoteWithPaddingIsForwardedUnchanged) {
  MockTdxQuoteOptions v5;
  v5.version = 5;
  v5.body_type = tdx::kBodyTypeTdReport15;
  v5.padding = 300;  // interop spec §4.2: trailing bytes are not signed and are forwarded
  const auto service = quoting_service(v5);
  ASSERT_TRUE(service);
  start_tsm([&service](const FakeTsmRequest& request) {
    FakeTsmResponse response;
    response.outblob = mint(*service, to_report_data(request.inblob));
    return response;
  });
  const auto quote = make(options())->generate_evidence(binding(4));
  ASSERT_TRUE(quote) << quote.error().describe();
  const auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->header.version, 5);
  EXPECT_EQ(parsed->trailing_bytes, 300U);
  expect_verifies(*quote, binding(4));
}

TEST_F(TdxAttesterTest, QuoteForOtherReportDataIsRejected) {
  // A host answering with a quote over other input (another TD's request, a replay).
  start_tsm([this](const FakeTsmRequest& request) {
    ReportData other = to_report_data(request.inblob);
    other[63] ^= 0x01;
    FakeTsmResponse response;
    response.outblob = mint(*service_, other);
    return response;
  });
  const auto quote = make(options())->generate_evidence(binding(5));
  EXPECT_EQ(outcome(quote), "tdx_gen.generated_report_data_mismatch");
}

TEST_F(TdxAttesterTest, MalformedOutblobIsRejected) {
  // What the host answers, set by the test thread and read by the fake kernel's thread.
  std::mutex mutex;
  Bytes outblob(1500, 0x42);
  start_tsm([&mutex, &outblob](const FakeTsmRequest&) {
    FakeTsmResponse response;
    const std::lock_guard lock(mutex);
    response.outblob = outblob;
    return response;
  });
  const auto serve = [&mutex, &outblob](Bytes bytes) {
    const std::lock_guard lock(mutex);
    outblob = std::move(bytes);
  };
  const auto attester = make(options());
  const auto garbage = attester->generate_evidence(binding(6));
  EXPECT_EQ(outcome(garbage), "tdx_gen.generated_quote_invalid");
  EXPECT_NE(garbage.error().detail.find("tdx."), std::string::npos) << garbage.error().detail;

  // A real quote cut short (a truncated read).
  Bytes truncated = mint(*service_, binding(6));
  truncated.resize(truncated.size() / 2);
  serve(truncated);
  EXPECT_EQ(outcome(attester->generate_evidence(binding(6))), "tdx_gen.generated_quote_invalid");

  // A well-formed quote of another TEE type (tee_type at header offset 4, interop spec §4.2).
  Bytes sgx = mint(*service_, binding(6));
  sgx[4] = 0x00;
  serve(sgx);
  EXPECT_EQ(outcome(attester->generate_evidence(binding(6))), "tdx_gen.generated_quote_not_tdx");
}

TEST_F(TdxAttesterTest, TruncationAtEveryLengthIsRejected) {
  const Bytes quote = mint(*service_, binding(7));
  ASSERT_TRUE(check_generated_quote(quote, binding(7)));
  for (std::size_t length = 0; length < quote.size(); ++length) {
    const auto result = check_generated_quote(
        Bytes(quote.begin(), quote.begin() + static_cast<long>(length)), binding(7));
    ASSERT_FALSE(result) << length;
    EXPECT_EQ(error_id(result.error().code), "tdx_gen.generated_quote_invalid") << length;
  }
}

TEST_F(TdxAttesterTest, OversizedQuoteIsRejected) {
  start_tsm();
  auto o = options();
  o.max_quote_size = 1024;  // a real quote with its PCK chain is several KiB
  const auto quote = make(o)->generate_evidence(binding(8));
  EXPECT_EQ(outcome(quote), "tdx_gen.generated_quote_too_large");
  Bytes padded = mint(*service_, binding(8));
  padded.resize(kMaxQuoteSize + 1, 0);
  EXPECT_EQ(outcome(check_generated_quote(padded, binding(8))),
            "tdx_gen.generated_quote_too_large");
}

TEST_F(TdxAttesterTest, ProviderMismatch) {
  auto sev = tdx_guest();
  sev.provider = "sev_guest";
  start_tsm(nullptr, sev);
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(9))), "tsm.provider_mismatch");
  EXPECT_TRUE(fake_->requests().empty());  // nothing was written to a foreign provider
}

TEST_F(TdxAttesterTest, NoConfigfsTsm) {
  // Auto: neither configfs-tsm nor /dev/tdx_guest (tdx_attester_backends_test.cpp has the rest).
  const auto result = make(options())->generate_evidence(binding(9));
  EXPECT_EQ(outcome(result), "tdx_gen.generation_unavailable");
  // configfs-tsm only: its own name.
  auto o = options();
  o.backend = TdxBackend::ConfigfsTsm;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(9))), "tsm.unavailable");
}

TEST_F(TdxAttesterTest, QuotingServiceFailureIsRetriedThenNamed) {
  std::atomic<int> failures{2};
  start_tsm([this, &failures](const FakeTsmRequest& request) {
    FakeTsmResponse response;
    if (failures.fetch_sub(1) > 0) {
      response.read_error = true;  // the kernel's EIO while QGS is unreachable
      return response;
    }
    response.outblob = mint(*service_, to_report_data(request.inblob));
    return response;
  });
  const auto attester = make(options());
  const auto quote = attester->generate_evidence(binding(10));
  ASSERT_TRUE(quote) << quote.error().describe();
  expect_verifies(*quote, binding(10));
  EXPECT_EQ(fake_->requests().size(), 3U);

  failures = 100;
  const auto failed = attester->generate_evidence(binding(10));
  EXPECT_EQ(outcome(failed), "tsm.outblob_read_failed");
  EXPECT_NE(failed.error().detail.find("after 3 attempts"), std::string::npos)
      << failed.error().detail;
  EXPECT_EQ(fake_->requests().size(), 6U);
  EXPECT_TRUE(std::filesystem::is_empty(fake_->root()));
}

TEST_F(TdxAttesterTest, ConcurrentRequestsEachGetTheirOwnQuote) {
  start_tsm();
  const auto attester = make(options());
  std::vector<Outcome<Bytes>> results(4, Failure{});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&attester, &results, i] {
      results[i] = attester->generate_evidence(binding(static_cast<std::uint8_t>(20 + i)));
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().describe();
    expect_verifies(*results[i], binding(static_cast<std::uint8_t>(20 + i)));
  }
}

}  // namespace
}  // namespace atls::attest::tdx_gen
