// TdxCollateralService against a fake PCS (tests/support/fake_pcs.h) serving collateral of a
// run-time mock TDX PKI (and the real bundled Intel collateral): cold miss, warm cache with the
// PCS down, refresh before nextUpdate, serve-stale-until-expiry, circuit breaker, Retry-After,
// disk persistence, single flight, and vetting (tampered, foreign, older documents). Time is a
// ManualClock; the refresh thread is driven by poll() except where the thread itself is tested.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "attest/collateral/tdx_pcs.h"
#include "attest/mock/tdx_mock.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/tdx_verifier.h"
#include "core/time.h"
#include "support/fake_pcs.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/testdata.h"

namespace atls::attest::collateral {
namespace {

using atls::testing::FakePcs;
using atls::testing::ManualClock;
using namespace std::chrono_literals;

const SystemTime kT0 = SystemTime(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
const tdx::Fmspc kFmspc{0x00, 0xa0, 0x6e, 0x57, 0x00, 0x00};
constexpr auto kCa = tdx::PckCaType::Platform;

ReportData report_data(std::uint8_t seed) {
  ReportData out{};
  out.fill(seed);
  return out;
}

std::string id_of(const Failure& failure) {
  return error_id(failure.code);
}

class TdxCollateralServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = mock::MockTdxPki::create(kT0);
    ASSERT_TRUE(pki) << pki.error().describe();
    pki_ = *pki;
    pcs_.serve_collateral(pki_->collateral_documents(), kFmspc, kCa);
    auto attester = mock::MockTdxAttester::create(pki_);
    ASSERT_TRUE(attester);
    auto quote = (*attester)->generate(report_data(7));
    ASSERT_TRUE(quote);
    quote_ = *quote;
    expires_ = tdx::collateral_dates(*pki_->collateral()).value().expires_at;
  }

  TdxCollateralServiceOptions options() const {
    TdxCollateralServiceOptions out;
    out.pccs_url = pcs_.base_url();
    out.trust_anchors = pki_->trust_anchors();
    out.cache.directory = cache_dir();
    out.cache.backoff_jitter = 0;
    out.cache.initial_backoff = 10s;
    out.cache.max_backoff = 1h;
    out.cache.upstream.breaker = {100, 60s};
    out.cache.upstream.reuse_window = 0s;
    return out;
  }

  std::shared_ptr<TdxCollateralService> make_service(TdxCollateralServiceOptions service_options,
                                                     Executor executor = {}) {
    DocumentCache::Dependencies dependencies;
    dependencies.clock = clock_;
    dependencies.executor = std::move(executor);
    auto service = TdxCollateralService::create(std::move(service_options), dependencies);
    EXPECT_TRUE(service) << (service ? "" : service.error().describe());
    return service ? *service : nullptr;
  }
  std::shared_ptr<TdxCollateralService> make_service() { return make_service(options()); }

  std::filesystem::path cache_dir() const { return std::filesystem::path(dir_.path()) / "cache"; }

  /// The real verifier over `source`, trusting only the mock root.
  tdx::TdxVerifier verifier(tdx::CollateralSourcePtr source) const {
    tdx::TdxVerifierOptions verifier_options;
    verifier_options.trust_anchors = pki_->trust_anchors();
    return tdx::TdxVerifier(std::move(source), verifier_options);
  }

  std::string verify(const std::shared_ptr<TdxCollateralService>& service) const {
    auto result = verifier(service).verify_detailed(AttestationType::DcapTdx, quote_,
                                                    report_data(7), clock_->now());
    return result ? std::string(tdx::to_string(result->status)) : id_of(result.error());
  }

  /// The mock collateral re-issued at `issued` (same PKI), served from now on.
  tdx::CollateralDocuments reissue(SystemTime issued, std::uint32_t evaluation = 1) {
    mock::MockTdxCollateralDates dates;
    dates.issued = issued;
    dates.tcb_evaluation_data_number = evaluation;
    auto documents = pki_->issue_collateral(dates);
    EXPECT_TRUE(documents);
    return documents ? std::move(*documents) : tdx::CollateralDocuments{};
  }

  std::size_t document_hits() const {
    return pcs_.hits(FakePcs::tcb_target(kFmspc)) + pcs_.hits(FakePcs::qe_target()) +
           pcs_.hits(FakePcs::pck_crl_target(kCa)) + pcs_.hits(FakePcs::root_crl_target());
  }

  // By value: callers pass the temporary vector entries() returns.
  static std::optional<EntrySnapshot> entry(const std::vector<EntrySnapshot>& entries) {
    const std::string key = tdx_cache_key(kFmspc, kCa);
    for (const auto& e : entries) {
      if (e.key == key) {
        return e;
      }
    }
    return std::nullopt;
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kT0);
  mock::MockTdxPkiPtr pki_;
  FakePcs pcs_;
  atls::testing::TempDir dir_;
  Bytes quote_;
  SystemTime expires_;
};

TEST_F(TdxCollateralServiceTest, ColdMissFetchesInTheBackgroundThenVerifies) {
  auto service = make_service();
  ASSERT_TRUE(service);
  EXPECT_EQ(tdx_cache_key(kFmspc, kCa), "tdx-00a06e570000-platform");

  // No I/O on the verification path: a miss answers at once and schedules a fetch.
  auto miss = service->collateral(kFmspc, kCa);
  ASSERT_FALSE(miss);
  EXPECT_EQ(id_of(miss.error()), "tdx.collateral_unavailable");
  EXPECT_NE(miss.error().detail.find("collateral.not_cached"), std::string::npos)
      << miss.error().detail;
  EXPECT_EQ(verify(service), "tdx.collateral_unavailable");
  EXPECT_EQ(pcs_.total_hits(), 0U);

  service->poll();  // what the refresh thread does when woken
  EXPECT_EQ(pcs_.hits(FakePcs::tcb_target(kFmspc)), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::qe_target()), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::pck_crl_target(kCa)), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::root_crl_target()), 1U);
  EXPECT_EQ(verify(service), "UpToDate");

  const auto entries = service->entries();
  const auto e = entry(entries);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->has_value);
  EXPECT_EQ(e->fetched_at, kT0);
  EXPECT_EQ(e->expires_at, expires_);
  EXPECT_EQ(e->age, 0s);
  EXPECT_EQ(e->time_to_expiry, std::chrono::duration_cast<std::chrono::seconds>(expires_ - kT0));
  EXPECT_EQ(e->refresh_at, kT0 + 24h);  // max_age
  EXPECT_EQ(e->details.value("fmspc", ""), "00a06e570000");
  EXPECT_EQ(e->details.value("expires_at", ""), format_rfc3339(expires_));
  EXPECT_TRUE(std::filesystem::exists(cache_file_path(cache_dir(), e->key)));

  clock_->advance(2h);
  EXPECT_EQ(entry(service->entries())->age, 2h);
}

TEST_F(TdxCollateralServiceTest, RefreshThreadPicksUpAMiss) {
  auto service = make_service();
  ASSERT_TRUE(service);
  // A tick far longer than the test: only the miss wakes the thread.
  service->start(std::chrono::hours(1));
  EXPECT_FALSE(service->collateral(kFmspc, kCa));
  bool available = false;
  for (int i = 0; i < 3000 && !available; ++i) {
    available = static_cast<bool>(service->collateral(kFmspc, kCa));
    if (!available) {
      std::this_thread::sleep_for(10ms);
    }
  }
  service->stop();
  EXPECT_TRUE(available);
  EXPECT_EQ(verify(service), "UpToDate");
}

TEST_F(TdxCollateralServiceTest, WarmCacheVerifiesWithThePcsDown) {
  auto service = make_service();
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  const std::size_t hits = pcs_.total_hits();
  pcs_.refuse_connections();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(verify(service), "UpToDate");
  }
  service->poll();  // nothing due: no request
  EXPECT_EQ(pcs_.total_hits(), hits);
}

TEST_F(TdxCollateralServiceTest, RefreshesBeforeNextUpdate) {
  auto service = make_service();
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  const auto first = service->collateral(kFmspc, kCa).value();
  EXPECT_EQ(document_hits(), 4U);

  clock_->advance(23h);
  service->poll();
  EXPECT_EQ(document_hits(), 4U);  // not due yet

  const auto newer = reissue(kT0 + 24h, 2);
  pcs_.serve_collateral(newer, kFmspc, kCa);
  clock_->advance(2h);
  // get() notices the refresh is due (and would wake the thread); poll() runs it.
  EXPECT_TRUE(service->collateral(kFmspc, kCa));
  service->poll();
  EXPECT_EQ(document_hits(), 8U);
  const auto second = service->collateral(kFmspc, kCa).value();
  EXPECT_NE(second->digest(), first->digest());
  EXPECT_EQ(second->tcb_info().tcb_evaluation_data_number, 2U);
  const auto e = entry(service->entries());
  EXPECT_EQ(e->fetched_at, kT0 + 25h);
  EXPECT_GT(e->expires_at, expires_);
  EXPECT_EQ(verify(service), "UpToDate");
}

TEST_F(TdxCollateralServiceTest, FailingRefreshServesStaleUntilExpiryThenUnavailable) {
  auto service = make_service();
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  pcs_.fail_with(500);

  clock_->set(kT0 + 25h);
  service->poll();
  EXPECT_EQ(verify(service), "UpToDate");
  auto e = *entry(service->entries());
  EXPECT_EQ(e.consecutive_failures, 1U);
  ASSERT_TRUE(e.last_error);
  EXPECT_EQ(id_of(*e.last_error), "collateral.server_error");
  EXPECT_EQ(e.next_attempt_at, kT0 + 25h + 10s);

  // Backing off: nothing is sent before the next attempt; then exponential backoff.
  const std::size_t hits = pcs_.total_hits();
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), hits);
  clock_->advance(10s);
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), hits + 1);
  e = *entry(service->entries());
  EXPECT_EQ(e.consecutive_failures, 2U);
  EXPECT_EQ(e.next_attempt_at, kT0 + 25h + 10s + 20s);

  // Still serving just before expiry...
  clock_->set(expires_ - 1s);
  service->poll();
  EXPECT_EQ(verify(service), "UpToDate");
  // ... and no longer at expiry.
  clock_->set(expires_);
  auto expired = service->collateral(kFmspc, kCa);
  ASSERT_FALSE(expired);
  EXPECT_EQ(id_of(expired.error()), "tdx.collateral_unavailable");
  EXPECT_NE(expired.error().detail.find("collateral.expired"), std::string::npos);
  EXPECT_NE(expired.error().detail.find("collateral.server_error"), std::string::npos);
  EXPECT_EQ(verify(service), "tdx.collateral_unavailable");
  EXPECT_TRUE(entry(service->entries())->expired);

  // The PCS recovers with fresh collateral: served again after the next attempt.
  pcs_.serve_collateral(reissue(expires_ - 1h), kFmspc, kCa);
  pcs_.recover();
  clock_->advance(1h);
  service->poll();
  EXPECT_EQ(verify(service), "UpToDate");
  EXPECT_EQ(entry(service->entries())->consecutive_failures, 0U);
}

TEST_F(TdxCollateralServiceTest, CircuitBreakerOpensHalfOpensAndCloses) {
  auto service_options = options();
  service_options.cache.upstream.breaker = {3, 60s};
  auto service = make_service(service_options);
  pcs_.fail_with(500);
  for (int i = 0; i < 3; ++i) {
    auto failed = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(failed);
    EXPECT_EQ(id_of(failed.error()), "collateral.server_error");
  }
  EXPECT_EQ(pcs_.total_hits(), 3U);  // each load stops at its first failing request
  auto upstream = service->upstream();
  EXPECT_EQ(upstream.breaker, BreakerState::Open);
  EXPECT_EQ(upstream.consecutive_failures, 3U);
  EXPECT_EQ(upstream.opened_at, kT0);

  // Open: refused without a request, and the refresh loop does not even start a load.
  auto refused = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(id_of(refused.error()), "collateral.circuit_open");
  clock_->advance(59s);
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), 3U);
  EXPECT_EQ(service->upstream().requests_refused, 1U);

  // Half-open after the cool-down: one probe, which fails and re-opens the breaker.
  clock_->advance(1s);
  EXPECT_EQ(service->upstream().breaker, BreakerState::HalfOpen);
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), 4U);
  upstream = service->upstream();
  EXPECT_EQ(upstream.breaker, BreakerState::Open);
  EXPECT_EQ(upstream.times_opened, 2U);

  // Recovered: the next probe (after the cool-down and the key's own backoff, 80 s after its
  // fourth failure) succeeds and closes it.
  pcs_.recover();
  clock_->advance(60s);
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), 4U);
  clock_->advance(20s);
  service->poll();
  EXPECT_EQ(service->upstream().breaker, BreakerState::Closed);
  EXPECT_EQ(verify(service), "UpToDate");
}

TEST_F(TdxCollateralServiceTest, RetryAfterHoldsEveryRequestBack) {
  auto service = make_service();
  pcs_.fail_with(429, "120");
  auto limited = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(limited);
  EXPECT_EQ(id_of(limited.error()), "collateral.rate_limited");
  EXPECT_NE(limited.error().detail.find("Retry-After 120 s"), std::string::npos);
  EXPECT_EQ(service->upstream().hold_off_until, kT0 + 120s);

  pcs_.recover();
  auto held = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(held);
  EXPECT_EQ(id_of(held.error()), "collateral.rate_limited");
  clock_->advance(119s);
  service->poll();
  EXPECT_EQ(pcs_.total_hits(), 1U);

  clock_->advance(1s);
  service->poll();
  EXPECT_EQ(verify(service), "UpToDate");
}

TEST_F(TdxCollateralServiceTest, ConnectionRefusedIsAFetchFailure) {
  auto service = make_service();
  pcs_.refuse_connections();
  auto refused = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(id_of(refused.error()), "collateral.fetch_failed");
  EXPECT_NE(refused.error().detail.find("net.connect_failed"), std::string::npos)
      << refused.error().detail;
  pcs_.recover();
  EXPECT_TRUE(service->prefetch(kFmspc, kCa, 10s));
}

TEST_F(TdxCollateralServiceTest, DiskCacheSurvivesARestart) {
  {
    auto service = make_service();
    ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  }
  pcs_.refuse_connections();
  clock_->advance(3h);
  auto restarted = make_service();
  // Served at once, from disk, without any request.
  EXPECT_EQ(verify(restarted), "UpToDate");
  const auto e = entry(restarted->entries());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->fetched_at, kT0);
  EXPECT_EQ(e->age, 3h);
  EXPECT_EQ(e->refresh_at, kT0 + 24h);

  // An expired file is not restored.
  clock_->set(expires_);
  auto late = make_service();
  EXPECT_TRUE(late->entries().empty());
}

TEST_F(TdxCollateralServiceTest, CorruptOrForeignCacheFilesAreIgnored) {
  {
    auto service = make_service();
    ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  }
  const auto good = cache_file_path(cache_dir(), tdx_cache_key(kFmspc, kCa));
  const std::string content = read_file_limited(good, 1 << 24).value();
  const auto write = [&](const std::string& key, const std::string& text) {
    std::ofstream(cache_file_path(cache_dir(), key), std::ios::binary) << text;
  };
  const tdx::Fmspc other{1, 2, 3, 4, 5, 6};
  // Garbage, a truncated file, and a valid file under another key's name.
  write(tdx_cache_key(kFmspc, tdx::PckCaType::Processor), "garbage");
  write(tdx_cache_key(other, kCa), content.substr(0, content.size() / 2));
  write(tdx_cache_key(other, tdx::PckCaType::Processor), content);
  // A well-formed file whose collateral was tampered with (digest recomputed): the vetting
  // rejects it.
  auto file = parse_cache_file(content).value();
  const auto tampered_key = tdx_cache_key({6, 5, 4, 3, 2, 1}, kCa);
  file.key = tampered_key;
  const auto at = file.payload.find("UpToDate");
  ASSERT_NE(at, std::string::npos);
  file.payload.replace(at, 8, "OutOfDat");
  write(tampered_key, encode_cache_file(file));

  auto service = make_service();
  const auto entries = service->entries();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries.front().key, tdx_cache_key(kFmspc, kCa));
  EXPECT_EQ(verify(service), "UpToDate");
}

TEST_F(TdxCollateralServiceTest, SingleFlightFetchesEachDocumentOnce) {
  boost::asio::thread_pool pool(4);
  auto service = make_service(
      options(), [&pool](std::function<void()> job) { boost::asio::post(pool, std::move(job)); });
  pcs_.hold(true);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { EXPECT_FALSE(service->collateral(kFmspc, kCa)); });
  }
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { service->poll(); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  threads.clear();
  pcs_.wait_for_requests(1);  // the one load is in flight, held at its first request
  constexpr unsigned kWaiters = 8;
  std::atomic<unsigned> ok{0};
  for (unsigned i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&] {
      if (service->prefetch(kFmspc, kCa, 60s)) {
        ++ok;
      }
    });
  }
  for (int i = 0; i < 5000; ++i) {
    const auto e = entry(service->entries());
    if (e && e->waiters == kWaiters) {
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(entry(service->entries())->waiters, kWaiters);
  pcs_.hold(false);
  for (auto& thread : threads) {
    thread.join();
  }
  pool.join();
  EXPECT_EQ(ok.load(), kWaiters);
  EXPECT_EQ(pcs_.hits(FakePcs::tcb_target(kFmspc)), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::qe_target()), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::pck_crl_target(kCa)), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::root_crl_target()), 1U);
  EXPECT_EQ(entry(service->entries())->attempts, 1U);
}

TEST_F(TdxCollateralServiceTest, TamperedFetchNeverReplacesGoodCollateral) {
  auto service = make_service();
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  const auto good = service->collateral(kFmspc, kCa).value();

  auto tampered = pki_->collateral_documents();
  tampered.tcb_info_signature[5] ^= 1;
  pcs_.serve_collateral(tampered, kFmspc, kCa);
  clock_->advance(25h);
  auto refreshed = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(refreshed);
  EXPECT_EQ(id_of(refreshed.error()), "collateral.validation_failed");
  EXPECT_NE(refreshed.error().detail.find("tdx.tcb_info_signature_invalid"), std::string::npos)
      << refreshed.error().detail;
  EXPECT_EQ(service->collateral(kFmspc, kCa).value()->digest(), good->digest());
  EXPECT_EQ(verify(service), "UpToDate");

  // The on-disk copy is untouched too.
  auto restarted = make_service();
  EXPECT_EQ(restarted->collateral(kFmspc, kCa).value()->digest(), good->digest());
}

TEST_F(TdxCollateralServiceTest, BadBundlesAreNeverCached) {
  auto service_options = options();
  service_options.cache.directory.clear();
  {
    // Collateral of another PKI (not trusted): its root CA CRL is the first thing checked.
    auto other = mock::MockTdxPki::create(kT0).value();
    pcs_.serve_collateral(other->collateral_documents(), kFmspc, kCa);
    auto service = make_service(service_options);
    auto fetched = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(id_of(fetched.error()), "collateral.validation_failed");
    EXPECT_NE(fetched.error().detail.find("tdx.root_crl_signature_invalid"), std::string::npos)
        << fetched.error().detail;
    EXPECT_FALSE(service->collateral(kFmspc, kCa));
  }
  {
    // A valid bundle for another FMSPC, served under this one.
    mock::MockTdxPkiOptions other_options;
    other_options.fmspc = {9, 9, 9, 9, 9, 9};
    auto other = mock::MockTdxPki::create(kT0, other_options).value();
    service_options.trust_anchors = other->trust_anchors();
    pcs_.serve_collateral(other->collateral_documents(), kFmspc, kCa);
    auto service = make_service(service_options);
    auto fetched = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(id_of(fetched.error()), "collateral.validation_failed");
    EXPECT_NE(fetched.error().detail.find("FMSPC 090909090909"), std::string::npos);
  }
  {
    // Expired collateral.
    service_options.trust_anchors = pki_->trust_anchors();
    pcs_.serve_collateral(reissue(kT0 - 24h * 40), kFmspc, kCa);
    auto service = make_service(service_options);
    auto fetched = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(id_of(fetched.error()), "collateral.validation_failed");
  }
  {
    // An issuer-chain header that decodes to non-ASCII bytes.
    const auto& documents = pki_->collateral_documents();
    pcs_.serve_collateral(documents, kFmspc, kCa);
    pcs_.set_route(FakePcs::tcb_target(kFmspc),
                   {200,
                    {{"TCB-Info-Issuer-Chain",
                      "%FF" + atls::testing::url_encode(documents.tcb_info_issuer_chain)}},
                    "{\"tcbInfo\":" + documents.tcb_info + ",\"signature\":\"" +
                        to_hex(documents.tcb_info_signature) + "\"}"});
    auto service = make_service(service_options);
    auto fetched = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(id_of(fetched.error()), "collateral.invalid_response");
  }
  {
    // A response without its issuer-chain header.
    pcs_.serve_collateral(pki_->collateral_documents(), kFmspc, kCa);
    pcs_.set_route(FakePcs::qe_target(), {200, {}, "{}"});
    auto service = make_service(service_options);
    auto fetched = service->prefetch(kFmspc, kCa, 10s);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(id_of(fetched.error()), "collateral.invalid_response");
  }
}

TEST_F(TdxCollateralServiceTest, OlderDocumentsAreARegression) {
  pcs_.serve_collateral(reissue(kT0 - 1h, 5), kFmspc, kCa);
  auto service = make_service();
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  // Still valid, but issued earlier with an older evaluation number: refused.
  pcs_.serve_collateral(reissue(kT0 - 48h, 4), kFmspc, kCa);
  clock_->advance(25h);
  auto older = service->prefetch(kFmspc, kCa, 10s);
  ASSERT_FALSE(older);
  EXPECT_EQ(id_of(older.error()), "collateral.regression");
  EXPECT_EQ(service->collateral(kFmspc, kCa).value()->tcb_info().tcb_evaluation_data_number, 5U);
}

TEST_F(TdxCollateralServiceTest, PccsUrlFormsAndTheV3Header) {
  pcs_.serve_collateral(pki_->collateral_documents(), kFmspc, kCa, /*v3_tcb_header=*/true);
  for (const std::string suffix : {"/", "/sgx/certification/v4", "/tdx/certification/v4/"}) {
    auto service_options = options();
    service_options.pccs_url = pcs_.base_url() + suffix;
    service_options.cache.directory.clear();
    auto service = make_service(service_options);
    EXPECT_EQ(service->base_url(), pcs_.base_url());
    EXPECT_TRUE(service->prefetch(kFmspc, kCa, 10s)) << suffix;
  }
  auto bad = options();
  bad.pccs_url = "ftp://example";
  auto service = TdxCollateralService::create(bad);
  ASSERT_FALSE(service);
  EXPECT_EQ(id_of(service.error()), "collateral.invalid_options");
}

TEST_F(TdxCollateralServiceTest, SharedDocumentsAreReusedWithinTheWindow) {
  auto service_options = options();
  service_options.cache.upstream.reuse_window = 60s;
  auto service = make_service(service_options);
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  // The processor-CA key shares TCB info, QE identity and root CRL with the platform key; this
  // mock PCS has no processor CRL (404).
  auto processor = service->prefetch(kFmspc, tdx::PckCaType::Processor, 10s);
  ASSERT_FALSE(processor);
  EXPECT_EQ(id_of(processor.error()), "collateral.not_found");
  EXPECT_EQ(pcs_.hits(FakePcs::tcb_target(kFmspc)), 1U);
  EXPECT_EQ(pcs_.hits(FakePcs::qe_target()), 1U);
  EXPECT_EQ(service->upstream().requests_shared, 2U);
  EXPECT_EQ(service->upstream().breaker, BreakerState::Closed);  // a 404 is not an outage
  clock_->advance(61s);
  ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  EXPECT_EQ(pcs_.hits(FakePcs::tcb_target(kFmspc)), 2U);
}

TEST_F(TdxCollateralServiceTest, KeysAreBounded) {
  auto service_options = options();
  service_options.cache.max_entries = 2;
  auto service = make_service(service_options);
  EXPECT_FALSE(service->collateral({1, 1, 1, 1, 1, 1}, kCa));
  EXPECT_FALSE(service->collateral({2, 2, 2, 2, 2, 2}, kCa));
  auto full = service->collateral({3, 3, 3, 3, 3, 3}, kCa);
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().detail.find("collateral.cache_full"), std::string::npos);
  EXPECT_EQ(service->entries().size(), 2U);
  // Keys that never loaded and are no longer asked for are forgotten.
  clock_->advance(25h);
  pcs_.refuse_connections();
  service->poll();
  EXPECT_EQ(service->entries().size(), 0U);
}

TEST_F(TdxCollateralServiceTest, QuotesWithAnUntrustedPckChainTriggerNoFetch) {
  mock::MockTdxPkiOptions other_options;
  other_options.fmspc = {0xde, 0xad, 0xbe, 0xef, 0, 1};
  auto other = mock::MockTdxPki::create(kT0, other_options).value();
  auto attester = mock::MockTdxAttester::create(other).value();
  const Bytes foreign = attester->generate(report_data(7)).value();
  auto service = make_service();
  auto result =
      verifier(service).verify_detailed(AttestationType::DcapTdx, foreign, report_data(7), kT0);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.root_not_trusted");
  EXPECT_TRUE(service->entries().empty());
}

TEST_F(TdxCollateralServiceTest, WarmUpRefreshesRestoredAndRequestedKeys) {
  {
    auto service = make_service();
    ASSERT_TRUE(service->prefetch(kFmspc, kCa, 10s));
  }
  clock_->advance(25h);  // the restored bundle is due for a refresh
  auto service = make_service();
  const std::size_t before = document_hits();
  EXPECT_TRUE(service->warm_up({}, 10s));
  EXPECT_EQ(document_hits(), before + 4);
  // A key the PCS does not know: the warm-up names it.
  auto missing = service->warm_up({{{7, 7, 7, 7, 7, 7}, kCa}}, 10s);
  ASSERT_FALSE(missing);
  EXPECT_EQ(id_of(missing.error()), "collateral.not_cached");
  EXPECT_NE(missing.error().detail.find("tdx-070707070707-platform"), std::string::npos);
}

TEST_F(TdxCollateralServiceTest, RealIntelCollateralThroughTheFakePcs) {
  ATLS_REQUIRE_TESTDATA();
  const auto text =
      atls::testing::read_text(atls::testing::testdata_path("dcap-qvl/tdx_quote_collateral.json"));
  auto documents = tdx::collateral_from_json(text);
  ASSERT_TRUE(documents);
  const tdx::Fmspc fmspc{0xb0, 0xc0, 0x6f, 0x00, 0x00, 0x00};
  pcs_.serve_collateral(*documents, fmspc, tdx::PckCaType::Platform);
  clock_->set(parse_rfc3339("2025-07-01T00:00:00Z").value());
  auto service_options = options();
  service_options.trust_anchors = nullptr;  // the pinned production Intel root
  auto service = make_service(service_options);
  auto fetched = service->prefetch(fmspc, tdx::PckCaType::Platform, 10s);
  ASSERT_TRUE(fetched) << fetched.error().describe();
  EXPECT_EQ(tdx::collateral_to_json((*fetched)->documents()), tdx::collateral_to_json(*documents));

  const Bytes quote = atls::testing::read_bytes(atls::testing::testdata_path("dcap-qvl/tdx_quote"));
  ReportData expected{};
  auto parsed = tdx::parse_quote(quote);
  ASSERT_TRUE(parsed);
  std::copy(parsed->body.report_data.begin(), parsed->body.report_data.end(), expected.begin());
  tdx::TdxVerifier production(service);
  auto result =
      production.verify_detailed(AttestationType::DcapTdx, quote, expected, clock_->now());
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->status, tdx::TcbStatus::UpToDate);
  // The bundle stops verifying at its earliest nextUpdate (TCB info / QE identity, July 2025).
  const auto entries = service->entries();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_LT(entries.front().expires_at, parse_rfc3339("2025-07-20T00:00:00Z").value());
  EXPECT_GT(entries.front().expires_at, parse_rfc3339("2025-07-18T00:00:00Z").value());
}

}  // namespace
}  // namespace atls::attest::collateral
