// The configfs-tsm client against the inotify-based fake configfs (tests/support/
// fake_configfs_tsm.h): the request sequence, privlevel handling, generation races, failures
// of every step, and that entries are always removed.
#include "attest/tsm/tsm_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "attest/tsm/errors.h"
#include "support/fake_configfs_tsm.h"
#include "support/process.h"

namespace atls::attest::tsm {
namespace {

using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;

Bytes inblob_of(std::uint8_t seed) {
  Bytes data(kInblobSize);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(seed + i);
  }
  return data;
}

// A provider that "signs" by prefixing: outblob = "R" + inblob, auxblob = "A".
FakeTsmResponse echo(const FakeTsmRequest& request) {
  FakeTsmResponse response;
  response.outblob = {'R'};
  response.outblob.insert(response.outblob.end(), request.inblob.begin(), request.inblob.end());
  response.auxblob = {'A'};
  return response;
}

Bytes expected_outblob(const Bytes& inblob) {
  Bytes out{'R'};
  out.insert(out.end(), inblob.begin(), inblob.end());
  return out;
}

std::string outcome(const Outcome<TsmReport>& result) {
  return result ? "ok" : error_id(result.error().code);
}

bool directory_empty(const std::filesystem::path& path) {
  return std::filesystem::is_empty(path);
}

class TsmClientTest : public ::testing::Test {
 protected:
  void start(atls::testing::FakeTsmGenerator generator = echo,
             FakeConfigfsTsmOptions options = {}) {
    fake_ =
        std::make_unique<FakeConfigfsTsm>(dir_.path(), std::move(generator), std::move(options));
    ASSERT_TRUE(fake_->ok()) << fake_->error();
  }

  TsmClientOptions client_options() const {
    TsmClientOptions options;
    options.root = fake_->root();
    options.expected_provider = "sev_guest";
    return options;
  }

  atls::testing::TempDir dir_;
  std::unique_ptr<FakeConfigfsTsm> fake_;
};

TEST_F(TsmClientTest, GeneratesAReportAndRemovesTheEntry) {
  start();
  TsmClient client(client_options());
  const Bytes inblob = inblob_of(7);
  auto report = client.generate({inblob, std::nullopt});
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->provider, "sev_guest");
  EXPECT_EQ(report->outblob, expected_outblob(inblob));
  ASSERT_TRUE(report->auxblob.has_value());
  EXPECT_EQ(*report->auxblob, Bytes{'A'});
  EXPECT_EQ(report->generation, 1U);
  EXPECT_EQ(report->attempts, 1U);
  // rmdir succeeded before generate() returned.
  EXPECT_TRUE(directory_empty(fake_->root()));
  EXPECT_EQ(client.stats().requests, 1U);
  EXPECT_EQ(client.stats().leaked_entries, 0U);
  const auto requests = fake_->requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].inblob, inblob);
  EXPECT_FALSE(requests[0].privlevel.has_value());
  EXPECT_EQ(fake_->entries_created(), 1U);
}

TEST_F(TsmClientTest, WritesPrivlevelBeforeInblob) {
  start();
  TsmClient client(client_options());
  auto report = client.generate({inblob_of(1), 2U});
  ASSERT_TRUE(report) << report.error().describe();
  // Two writes: privlevel, inblob (Documentation/ABI: every write bumps generation).
  EXPECT_EQ(report->generation, 2U);
  const auto requests = fake_->requests();
  ASSERT_EQ(requests.size(), 1U);
  ASSERT_TRUE(requests[0].privlevel.has_value());
  EXPECT_EQ(*requests[0].privlevel, 2U);
}

TEST_F(TsmClientTest, PrivlevelErrors) {
  FakeConfigfsTsmOptions options;
  options.privlevel_floor = 1;
  start(echo, options);
  TsmClient client(client_options());
  EXPECT_EQ(outcome(client.generate({inblob_of(1), 0U})), "tsm.privlevel_below_floor");
  EXPECT_EQ(outcome(client.generate({inblob_of(1), 4U})), "tsm.privlevel_out_of_range");
  EXPECT_EQ(outcome(client.generate({inblob_of(1), 1U})), "ok");
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, ProviderWithoutPrivlevel) {
  FakeConfigfsTsmOptions options;
  options.provider = "tdx_guest";
  options.privlevel = false;
  options.auxblob = false;
  start(echo, options);
  auto client_opts = client_options();
  client_opts.expected_provider = "tdx_guest";
  TsmClient client(client_opts);
  EXPECT_EQ(outcome(client.generate({inblob_of(1), 0U})), "tsm.privlevel_unsupported");
  auto report = client.generate({inblob_of(1), std::nullopt});
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_FALSE(report->auxblob.has_value()) << "no auxblob attribute: nullopt";
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, EmptyAuxblobIsPresentButEmpty) {
  start([](const FakeTsmRequest& request) {
    FakeTsmResponse response = echo(request);
    response.auxblob.clear();
    return response;
  });
  TsmClient client(client_options());
  auto report = client.generate({inblob_of(1), std::nullopt});
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_TRUE(report->auxblob.has_value());
  EXPECT_TRUE(report->auxblob->empty());
}

TEST_F(TsmClientTest, ProviderMismatch) {
  start();
  auto options = client_options();
  options.expected_provider = "tdx_guest";
  TsmClient client(options);
  const auto result = client.generate({inblob_of(1), std::nullopt});
  EXPECT_EQ(outcome(result), "tsm.provider_mismatch");
  EXPECT_NE(result.error().detail.find("sev_guest"), std::string::npos);
  EXPECT_TRUE(fake_->requests().empty()) << "nothing written after the provider check";
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, MissingRootIsUnavailable) {
  TsmClientOptions options;
  options.root = dir_.path() + "/no-such-dir";
  TsmClient client(options);
  EXPECT_FALSE(client.root_present());
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.unavailable");
  const auto provider = client.read_provider();
  ASSERT_FALSE(provider);
  EXPECT_EQ(error_id(provider.error().code), "tsm.unavailable");
}

TEST_F(TsmClientTest, InblobMustBe64Bytes) {
  start();
  TsmClient client(client_options());
  const Bytes short_inblob(63, 1);
  EXPECT_EQ(outcome(client.generate({short_inblob, std::nullopt})), "tsm.invalid_inblob_size");
  EXPECT_EQ(fake_->entries_created(), 0U);
}

TEST_F(TsmClientTest, ConcurrentWriterIsDetectedAndRetried) {
  start();
  fake_->inject_concurrent_writer(1);
  TsmClient client(client_options());
  const Bytes inblob = inblob_of(9);
  auto report = client.generate({inblob, std::nullopt});
  ASSERT_TRUE(report) << report.error().describe();
  // The first entry's report was produced for the other writer's inblob and discarded.
  EXPECT_EQ(report->outblob, expected_outblob(inblob));
  EXPECT_EQ(report->attempts, 2U);
  EXPECT_EQ(client.stats().generation_races, 1U);
  const auto requests = fake_->requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].inblob, Bytes(64, 0xEE));
  EXPECT_EQ(requests[1].inblob, inblob);
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, PersistentRaceFailsAfterMaxAttempts) {
  start();
  fake_->inject_concurrent_writer(10);
  auto options = client_options();
  options.max_attempts = 3;
  TsmClient client(options);
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.generation_race");
  EXPECT_EQ(fake_->requests().size(), 3U);
  EXPECT_EQ(client.stats().generation_races, 3U);
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, EmptyOutblob) {
  start([](const FakeTsmRequest&) { return FakeTsmResponse{}; });
  TsmClient client(client_options());
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.outblob_empty");
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, FailedGenerationIsAnOutblobReadFailure) {
  start([](const FakeTsmRequest&) {
    FakeTsmResponse response;
    response.read_error = true;
    return response;
  });
  TsmClient client(client_options());
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.outblob_read_failed");
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, OversizedBlobs) {
  start([](const FakeTsmRequest& request) {
    FakeTsmResponse response = echo(request);
    response.auxblob.assign(200, 0xAA);
    return response;
  });
  auto options = client_options();
  options.max_blob_size = 64;
  TsmClient client(options);
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.outblob_too_large");
  options.max_blob_size = 100;
  TsmClient larger(options);
  EXPECT_EQ(outcome(larger.generate({inblob_of(1), std::nullopt})), "tsm.auxblob_too_large");
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, UnpopulatedEntryTimesOut) {
  FakeConfigfsTsmOptions fake_options;
  fake_options.populate = false;
  start(echo, fake_options);
  auto options = client_options();
  options.attribute_wait = std::chrono::milliseconds(50);
  TsmClient client(options);
  EXPECT_EQ(outcome(client.generate({inblob_of(1), std::nullopt})), "tsm.attribute_missing");
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, ReadsTheProviderForDetection) {
  start();
  TsmClient client(client_options());
  EXPECT_TRUE(client.root_present());
  auto provider = client.read_provider();
  ASSERT_TRUE(provider) << provider.error().describe();
  EXPECT_EQ(*provider, "sev_guest");
  EXPECT_TRUE(fake_->requests().empty());
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST_F(TsmClientTest, ConcurrentRequestsGetTheirOwnReports) {
  start();
  auto options = client_options();
  options.max_concurrency = 2;
  TsmClient client(options);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 3;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client, &good, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Bytes inblob = inblob_of(static_cast<std::uint8_t>(t * 16 + i));
        auto report = client.generate({inblob, std::nullopt});
        if (report && report->outblob == expected_outblob(inblob)) {
          ++good;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(good.load(), kThreads * kPerThread);
  EXPECT_EQ(client.stats().leaked_entries, 0U);
  EXPECT_TRUE(directory_empty(fake_->root()));
}

TEST(TsmParse, DecimalAttribute) {
  EXPECT_EQ(parse_decimal_attribute("0\n"), 0U);
  EXPECT_EQ(parse_decimal_attribute("42"), 42U);
  EXPECT_EQ(parse_decimal_attribute("18446744073709551615\n"), UINT64_MAX);
  EXPECT_FALSE(parse_decimal_attribute("18446744073709551616"));
  EXPECT_FALSE(parse_decimal_attribute(""));
  EXPECT_FALSE(parse_decimal_attribute("\n"));
  EXPECT_FALSE(parse_decimal_attribute("1\n\n"));
  EXPECT_FALSE(parse_decimal_attribute("-1"));
  EXPECT_FALSE(parse_decimal_attribute("+1"));
  EXPECT_FALSE(parse_decimal_attribute(" 1"));
  EXPECT_FALSE(parse_decimal_attribute("0x10"));
}

TEST(TsmErrors, NamesAreStable) {
  EXPECT_EQ(error_id(make_error_code(Errc::GenerationRace)), "tsm.generation_race");
  EXPECT_EQ(error_id(make_error_code(Errc::Unavailable)), "tsm.unavailable");
  EXPECT_EQ(error_id(make_error_code(Errc::Busy)), "tsm.busy");
}

}  // namespace
}  // namespace atls::attest::tsm
