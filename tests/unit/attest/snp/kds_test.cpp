// The AMD KDS certificate service: URL building, Retry-After, the circuit breaker and backoff,
// the on-disk certificate cache, and the fetcher against an in-process fake KDS on 127.0.0.1
// (tests/support/fake_kds.h) serving the INSECURE MOCK SNP PKI. Time is a manual clock; no
// assertion depends on how long anything takes.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <fstream>
#include <thread>

#include "attest/mock/snp_mock.h"
#include "attest/snp/certificate_cache.h"
#include "attest/snp/circuit_breaker.h"
#include "attest/snp/errors.h"
#include "attest/snp/kds_client.h"
#include "support/fake_kds.h"
#include "support/process.h"

namespace atls::attest::snp {
namespace {

using atls::testing::FakeHttpResponse;
using atls::testing::FakeKds;
using mock::MockSnpAttester;
using mock::MockSnpPki;

const SystemTime kStart = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);

class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start) : now_(start) {}
  SystemTime now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void advance(std::chrono::seconds by) {
    std::lock_guard lock(mutex_);
    now_ += by;
  }

 private:
  mutable std::mutex mutex_;
  SystemTime now_;
};

std::shared_ptr<const MockSnpPki> pki() {
  auto shared = MockSnpPki::shared();
  EXPECT_TRUE(shared) << (shared ? "" : shared.error().describe());
  return shared ? *shared : nullptr;
}

std::shared_ptr<MockSnpAttester> chip(std::uint8_t id, Product product = Product::Milan) {
  mock::MockSnpConfig config;
  config.product = product;
  config.chip_id.fill(0);
  const std::size_t size = product == Product::Turin ? 8 : 64;
  for (std::size_t i = 0; i < size; ++i) {
    config.chip_id[i] = static_cast<std::uint8_t>(id + i);
  }
  if (product == Product::Turin) {
    config.tcb.fmc = 1;
  }
  // No certificates in the evidence: the verifier must use its CertificateSource.
  config.include_leaf = false;
  config.include_intermediate = false;
  config.include_ark = false;
  auto created = MockSnpAttester::create(pki(), config);
  EXPECT_TRUE(created) << (created ? "" : created.error().describe());
  return created ? *created : nullptr;
}

VcekQuery query_of(const MockSnpAttester& attester) {
  VcekQuery query;
  query.product = attester.config().product;
  query.chip_id = attester.config().chip_id;
  query.reported_tcb = decode_tcb(encode_tcb(attester.config().tcb, query.product), query.product);
  return query;
}

std::string pem_of(const Bytes& der) {
  const unsigned char* cursor = der.data();
  tls::X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  tls::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

ReportData binding(std::uint8_t seed) {
  ReportData data{};
  data.fill(seed);
  return data;
}

FakeHttpResponse http(unsigned status, std::string retry_after = {}) {
  FakeHttpResponse response;
  response.status = status;
  if (!retry_after.empty()) {
    response.headers.emplace_back("Retry-After", retry_after);
  }
  return response;
}

FakeHttpResponse dropped() {
  FakeHttpResponse response;
  response.drop_connection = true;
  return response;
}

template <class T>
std::string outcome(const Outcome<T>& result) {
  return result ? "ok" : error_id(result.error().code);
}

// ---------------------------------------------------------------------------------------------

TEST(SnpKdsUrls, VcekChainAndCrlPaths) {
  VcekQuery milan;
  milan.product = Product::Milan;
  milan.chip_id.fill(0xab);
  milan.reported_tcb =
      decode_tcb(encode_tcb({0, 3, 0, 8, 115, std::nullopt}, Product::Milan), Product::Milan);
  std::string hex;
  for (int i = 0; i < 64; ++i) {
    hex += "ab";
  }
  EXPECT_EQ(kds_vcek_path(milan),
            "/vcek/v1/Milan/" + hex + "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115");

  VcekQuery turin;
  turin.product = Product::Turin;
  for (std::size_t i = 0; i < 8; ++i) {
    turin.chip_id[i] = static_cast<std::uint8_t>(0xc0 + i);
  }
  turin.reported_tcb =
      decode_tcb(encode_tcb({0, 2, 0, 3, 72, std::uint8_t{1}}, Product::Turin), Product::Turin);
  EXPECT_EQ(kds_vcek_path(turin),
            "/vcek/v1/Turin/c0c1c2c3c4c5c6c7?fmcSPL=1&blSPL=2&teeSPL=0&snpSPL=3&ucodeSPL=72");

  EXPECT_EQ(kds_cert_chain_path(Product::Genoa, Signer::Vcek), "/vcek/v1/Genoa/cert_chain");
  EXPECT_EQ(kds_cert_chain_path(Product::Milan, Signer::Vlek), "/vlek/v1/Milan/cert_chain");
  EXPECT_EQ(kds_crl_path(Product::Turin, Signer::Vcek), "/vcek/v1/Turin/crl");
  EXPECT_EQ(kds_crl_path(Product::Genoa, Signer::Vlek), "/vlek/v1/Genoa/crl");
}

TEST(SnpKdsUrls, CacheNamesRoundTrip) {
  VcekQuery turin;
  turin.product = Product::Turin;
  turin.chip_id[0] = 0x01;
  turin.chip_id[7] = 0xfe;
  turin.reported_tcb =
      decode_tcb(encode_tcb({0, 2, 0, 3, 72, std::uint8_t{1}}, Product::Turin), Product::Turin);
  const std::string name = vcek_cache_name(turin);
  EXPECT_EQ(name, "vcek-Turin-01000000000000fe-bl2-tee0-snp3-ucode72-fmc1.der");
  const auto parsed = parse_vcek_cache_name(name);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(vcek_cache_name(*parsed), name);
  EXPECT_EQ(parsed->reported_tcb, turin.reported_tcb);

  VcekQuery milan;
  milan.chip_id.fill(0x11);
  milan.reported_tcb =
      decode_tcb(encode_tcb({0, 3, 0, 8, 115, std::nullopt}, Product::Milan), Product::Milan);
  const std::string milan_name = vcek_cache_name(milan);
  ASSERT_TRUE(parse_vcek_cache_name(milan_name));
  for (const std::string& bad : {
           std::string("vcek-Turin-01000000000000FE-bl2-tee0-snp3-ucode72-fmc1.der"),
           std::string("vcek-Turin-01000000000000fe-bl02-tee0-snp3-ucode72-fmc1.der"),
           std::string("vcek-Turin-01000000000000fe-bl2-tee0-snp3-ucode72.der"),
           std::string("vcek-Turin-01000000000000fe-bl2-tee0-snp3-ucode256-fmc1.der"),
           std::string("vcek-Venice-01000000000000fe-bl2-tee0-snp3-ucode72-fmc1.der"),
           std::string("vcek-Turin-01000000000000fe-bl2-tee0-snp3-ucode72-fmc1.pem"),
           milan_name.substr(0, milan_name.size() - 4) + "-fmc1.der",
           std::string("vcek-Milan-0011-bl3-tee0-snp8-ucode115.der"),
           std::string(""),
       }) {
    EXPECT_FALSE(parse_vcek_cache_name(bad)) << bad;
  }
}

TEST(SnpRetryAfter, SecondsAndDates) {
  using std::chrono::seconds;
  EXPECT_EQ(parse_retry_after("120", kStart), seconds(120));
  EXPECT_EQ(parse_retry_after(" 7\t", kStart), seconds(7));
  EXPECT_EQ(parse_retry_after("0", kStart), seconds(0));
  EXPECT_EQ(parse_retry_after("99999999999999999999999999", kStart), seconds(365LL * 24 * 3600));
  EXPECT_EQ(parse_retry_after("Sat, 01 Mar 2025 00:02:00 GMT", kStart), seconds(120));
  EXPECT_EQ(parse_retry_after("Fri, 28 Feb 2025 23:00:00 GMT", kStart), seconds(0));
  for (const std::string bad : {"", "-1", "1.5", "+3", "12a", "Sat, 01 Mar 2025 00:02:00 UTC",
                                "Saturday, 01-Mar-25 00:02:00 GMT", "Sat Mar  1 00:02:00 2025",
                                "Sat, 31 Feb 2025 00:02:00 GMT", "Sat, 01 Mar 2025 24:00:00 GMT",
                                "Xyz, 01 Mar 2025 00:02:00 GMT", "Sat, 01 Foo 2025 00:02:00 GMT",
                                "Sat, 01 Jan 0000 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, kStart)) << bad;
  }
  const std::string date = "Sat, 01 Mar 2025 00:02:00 GMT";
  for (std::size_t n = 1; n < date.size(); ++n) {
    EXPECT_FALSE(parse_retry_after(date.substr(0, n), kStart)) << n;
  }
}

TEST(SnpCircuitBreaker, OpensHalfOpensAndCloses) {
  CircuitBreaker breaker({3, std::chrono::seconds(60)});
  SystemTime now = kStart;
  EXPECT_EQ(breaker.state(now), BreakerState::Closed);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(breaker.try_acquire(now));
    breaker.on_failure(now);
  }
  EXPECT_EQ(breaker.state(now), BreakerState::Closed);
  EXPECT_TRUE(breaker.try_acquire(now));
  breaker.on_failure(now);
  EXPECT_EQ(breaker.state(now), BreakerState::Open);
  EXPECT_FALSE(breaker.try_acquire(now));
  now += std::chrono::seconds(60);
  EXPECT_EQ(breaker.state(now), BreakerState::HalfOpen);
  EXPECT_TRUE(breaker.try_acquire(now)) << "the probe";
  EXPECT_FALSE(breaker.try_acquire(now)) << "only one probe";
  breaker.on_failure(now);
  EXPECT_EQ(breaker.state(now), BreakerState::Open) << "failed probe reopens";
  now += std::chrono::seconds(60);
  EXPECT_TRUE(breaker.try_acquire(now));
  breaker.on_success();
  EXPECT_EQ(breaker.state(now), BreakerState::Closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0U);
  EXPECT_EQ(to_string(BreakerState::HalfOpen), "half_open");
}

TEST(SnpCircuitBreaker, BackoffDoublesAndHonoursRetryAfter) {
  RateLimitBackoff backoff({std::chrono::seconds(2), std::chrono::seconds(10)});
  EXPECT_FALSE(backoff.blocked_until(kStart));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::nullopt), kStart + std::chrono::seconds(2));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::nullopt), kStart + std::chrono::seconds(4));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::nullopt), kStart + std::chrono::seconds(8));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::nullopt), kStart + std::chrono::seconds(10));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::chrono::seconds(3)),
            kStart + std::chrono::seconds(3));
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::chrono::seconds(3600)),
            kStart + std::chrono::seconds(10))
      << "capped";
  EXPECT_TRUE(backoff.blocked_until(kStart + std::chrono::seconds(9)));
  EXPECT_FALSE(backoff.blocked_until(kStart + std::chrono::seconds(10)));
  backoff.on_success();
  EXPECT_EQ(backoff.on_rate_limited(kStart, std::nullopt), kStart + std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------------------------

class SnpCertificateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki()); }

  std::shared_ptr<CertificateCache> open_cache(std::size_t max_entries = 4096) {
    CertificateCacheOptions options;
    options.directory = std::filesystem::path(dir_.path()) / "cache";
    options.max_entries = max_entries;
    auto cache = CertificateCache::open(options);
    EXPECT_TRUE(cache) << (cache ? "" : cache.error().describe());
    return cache ? *cache : nullptr;
  }

  atls::testing::TempDir dir_;
};

TEST_F(SnpCertificateCacheTest, MissNotifiesAndStoreValidates) {
  const auto a = chip(0x10);
  const auto b = chip(0x20);
  auto cache = CertificateCache::open();
  ASSERT_TRUE(cache);
  std::vector<std::string> misses;
  (*cache)->set_miss_handler(
      [&misses](const VcekQuery& query) { misses.push_back(vcek_cache_name(query)); });
  const auto miss = (*cache)->find_vcek(query_of(*a));
  ASSERT_FALSE(miss);
  EXPECT_EQ(error_id(miss.error()), "snp.certificate_missing");
  ASSERT_EQ(misses.size(), 1U);
  EXPECT_EQ(misses[0], vcek_cache_name(query_of(*a)));

  // B's VCEK is not A's.
  const auto wrong = (*cache)->store_vcek(query_of(*a), b->leaf_der());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(error_id(wrong.error()), "snp.chip_id_mismatch");
  const auto garbage = (*cache)->store_vcek(query_of(*a), Bytes{1, 2, 3});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(error_id(garbage.error()), "snp.certificate_malformed");

  ASSERT_TRUE((*cache)->store_vcek(query_of(*a), a->leaf_der()));
  const auto hit = (*cache)->find_vcek(query_of(*a));
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, a->leaf_der());
  EXPECT_EQ(misses.size(), 1U);
  const auto stats = (*cache)->stats();
  EXPECT_EQ(stats.hits, 1U);
  EXPECT_EQ(stats.misses, 1U);
  EXPECT_EQ(stats.vceks, 1U);
}

TEST_F(SnpCertificateCacheTest, SurvivesARestart) {
  const auto a = chip(0x30);
  const Bytes crl = *pki()->issue_crl(false, false, kStart, kStart + std::chrono::days(30));
  {
    auto cache = open_cache();
    ASSERT_TRUE(cache->store_vcek(query_of(*a), a->leaf_der()));
    ASSERT_TRUE(cache->store_crl(Product::Milan, Signer::Vcek, crl));
    ASSERT_TRUE(cache->store_cert_chain(Product::Milan, Signer::Vcek,
                                        pem_of(pki()->ask_der()) + pem_of(pki()->ark_der())));
    EXPECT_EQ(cache->stats().disk_write_failures, 0U);
  }
  const auto files = std::distance(
      std::filesystem::directory_iterator(std::filesystem::path(dir_.path()) / "cache"), {});
  EXPECT_EQ(files, 3) << "no temporary files left";
  auto reopened = open_cache();
  EXPECT_EQ(reopened->stats().loaded_from_disk, 3U);
  const auto hit = reopened->find_vcek(query_of(*a));
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, a->leaf_der());
  EXPECT_EQ(reopened->crl(Product::Milan, Signer::Vcek), crl);
  EXPECT_EQ(reopened->crls().size(), 1U);
  const auto chain = reopened->cert_chain(Product::Milan, Signer::Vcek);
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), 2U);
  EXPECT_EQ((*chain)[0], pki()->ask_der());
  EXPECT_FALSE(reopened->cert_chain(Product::Genoa, Signer::Vcek));
}

TEST_F(SnpCertificateCacheTest, CorruptAndMisnamedFilesAreIgnored) {
  const auto a = chip(0x40);
  const auto b = chip(0x50);
  const auto directory = std::filesystem::path(dir_.path()) / "cache";
  std::filesystem::create_directories(directory);
  {
    std::ofstream corrupt(directory / vcek_cache_name(query_of(*a)), std::ios::binary);
    corrupt << "not a certificate";
    // B's (valid) VCEK under a name that promises another chip.
    std::ofstream misnamed(directory / vcek_cache_name(query_of(*chip(0x60))), std::ios::binary);
    misnamed.write(reinterpret_cast<const char*>(b->leaf_der().data()),
                   static_cast<std::streamsize>(b->leaf_der().size()));
    std::ofstream crl(directory / "crl-vcek-Milan.der", std::ios::binary);
    crl << "junk";
    std::ofstream temp(directory / ".tmp-vcek-leftover", std::ios::binary);
    temp << "x";
    std::ofstream unrelated(directory / "README", std::ios::binary);
    unrelated << "not ours";
  }
  auto cache = open_cache();
  const auto stats = cache->stats();
  EXPECT_EQ(stats.loaded_from_disk, 0U);
  EXPECT_EQ(stats.ignored_files, 3U);
  EXPECT_FALSE(cache->find_vcek(query_of(*a)));
  EXPECT_FALSE(cache->crl(Product::Milan, Signer::Vcek));
  EXPECT_FALSE(std::filesystem::exists(directory / ".tmp-vcek-leftover"));
  // A fresh store replaces the corrupt file.
  ASSERT_TRUE(cache->store_vcek(query_of(*a), a->leaf_der()));
  EXPECT_EQ(open_cache()->stats().loaded_from_disk, 1U);
}

TEST_F(SnpCertificateCacheTest, MemoryIsBounded) {
  const auto a = chip(0x70);
  const auto b = chip(0x80);
  auto cache = open_cache(1);
  ASSERT_TRUE(cache->store_vcek(query_of(*a), a->leaf_der()));
  ASSERT_TRUE(cache->store_vcek(query_of(*b), b->leaf_der()));
  EXPECT_EQ(cache->stats().vceks, 1U);
  EXPECT_FALSE(cache->lookup_vcek(query_of(*a)));
  EXPECT_TRUE(cache->lookup_vcek(query_of(*b)));
}

TEST_F(SnpCertificateCacheTest, UnusableDirectory) {
  const std::string file = dir_.write("plain-file", "x");
  CertificateCacheOptions options;
  options.directory = std::filesystem::path(file) / "sub";
  const auto cache = CertificateCache::open(options);
  ASSERT_FALSE(cache);
  EXPECT_EQ(error_id(cache.error().code), "snp.certificate_cache_unavailable");
}

// ---------------------------------------------------------------------------------------------

class SnpKdsFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki());
    ASSERT_TRUE(kds_.ok()) << kds_.error();
    chip_ = chip(0x90);
    ASSERT_TRUE(chip_);
    serve(*chip_);
    CertificateCacheOptions cache_options;
    cache_options.directory = std::filesystem::path(dir_.path()) / "cache";
    auto cache = CertificateCache::open(cache_options);
    ASSERT_TRUE(cache);
    cache_ = *cache;
  }

  void serve(const MockSnpAttester& attester) {
    const VcekQuery query = query_of(attester);
    kds_.add_vcek(query.product, kds_hw_id(query), query.reported_tcb, attester.leaf_der());
  }

  std::shared_ptr<KdsFetcher> fetcher(KdsFetcherOptions options = {}) {
    options.base_url = kds_.base_url() + "/";
    options.breaker = {3, std::chrono::seconds(60)};
    options.backoff = {std::chrono::seconds(2), std::chrono::seconds(900)};
    auto created = KdsFetcher::create(options, cache_, nullptr, clock_);
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }

  static void wait_until(const std::function<bool()>& condition) {
    // Bounded polling for a state another thread reaches (not a timing assertion).
    for (int i = 0; i < 10000 && !condition(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(condition());
  }

  atls::testing::TempDir dir_;
  FakeKds kds_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
  std::shared_ptr<MockSnpAttester> chip_;
  std::shared_ptr<CertificateCache> cache_;
};

TEST_F(SnpKdsFetcherTest, VerifierMissFetchesInTheBackgroundThenVerifiesOffline) {
  const auto kds = fetcher();
  const auto verifier = mock::make_insecure_mock_snp_verifier(*pki(), cache_);
  const Bytes evidence = *chip_->generate(binding(1));
  auto first = verifier->verify_evidence(AttestationType::SevSnp, evidence, binding(1), kStart);
  ASSERT_FALSE(first);
  EXPECT_EQ(error_id(first.error().code), "snp.certificate_missing");
  ASSERT_TRUE(kds->wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(kds_.request_count(), 1U);
  EXPECT_EQ(kds_.targets()[0], kds_vcek_path(query_of(*chip_)));

  auto second = verifier->verify_evidence(AttestationType::SevSnp, evidence, binding(1), kStart);
  ASSERT_TRUE(second) << second.error().describe();
  // KDS gone: verification needs no network.
  kds_.fail_next(100, dropped());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(verifier->verify(AttestationType::SevSnp, evidence, binding(1), kStart));
  }
  EXPECT_EQ(kds_.request_count(), 1U);
  EXPECT_EQ(kds->status().successes, 1U);
}

TEST_F(SnpKdsFetcherTest, FetchNowUsesTheCacheFirst) {
  const auto kds = fetcher();
  const auto der = kds->fetch_vcek_now(query_of(*chip_));
  ASSERT_TRUE(der) << der.error().describe();
  EXPECT_EQ(*der, chip_->leaf_der());
  EXPECT_TRUE(kds->fetch_vcek_now(query_of(*chip_)));
  EXPECT_EQ(kds_.request_count(), 1U);
  EXPECT_EQ(kds->status().cache_hits, 1U);
  EXPECT_TRUE(kds->prefetch_vcek(query_of(*chip_)));
  EXPECT_TRUE(kds->wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(kds_.request_count(), 1U);
}

TEST_F(SnpKdsFetcherTest, CorruptCacheFileIsIgnoredAndRefetched) {
  const VcekQuery query = query_of(*chip_);
  const auto file = cache_->directory() / vcek_cache_name(query);
  {
    std::ofstream corrupt(file, std::ios::binary);
    corrupt << "truncated";
  }
  // A restart finds the corrupt file, ignores it, and the first miss fetches it again.
  auto reopened = CertificateCache::open({cache_->directory(), 4096});
  ASSERT_TRUE(reopened);
  cache_ = *reopened;
  EXPECT_EQ(cache_->stats().ignored_files, 1U);
  const auto kds = fetcher();
  const auto verifier = mock::make_insecure_mock_snp_verifier(*pki(), cache_);
  const Bytes evidence = *chip_->generate(binding(4));
  EXPECT_FALSE(verifier->verify(AttestationType::SevSnp, evidence, binding(4), kStart));
  ASSERT_TRUE(kds->wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(kds_.request_count(), 1U);
  EXPECT_TRUE(verifier->verify(AttestationType::SevSnp, evidence, binding(4), kStart));
  // The file was replaced by the good VCEK.
  auto again = CertificateCache::open({cache_->directory(), 4096});
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->stats().loaded_from_disk, 1U);
  EXPECT_EQ((*again)->stats().ignored_files, 0U);
}

TEST_F(SnpKdsFetcherTest, TurinQueryUsesFmcAndAnEightByteHwId) {
  const auto turin = chip(0xa0, Product::Turin);
  serve(*turin);
  const auto kds = fetcher();
  const auto der = kds->fetch_vcek_now(query_of(*turin));
  ASSERT_TRUE(der) << der.error().describe();
  EXPECT_EQ(*der, turin->leaf_der());
  const auto verifier = mock::make_insecure_mock_snp_verifier(*pki(), cache_);
  EXPECT_TRUE(
      verifier->verify(AttestationType::SevSnp, *turin->generate(binding(2)), binding(2), kStart));
}

TEST_F(SnpKdsFetcherTest, RateLimitRetryAfterIsHonoured) {
  const auto kds = fetcher();
  const VcekQuery query = query_of(*chip_);
  kds_.fail_next(1, http(429, "120"));
  const auto limited = kds->fetch_vcek_now(query);
  EXPECT_EQ(outcome(limited), "snp.kds_rate_limited");
  auto status = kds->status();
  ASSERT_TRUE(status.backoff_until);
  EXPECT_EQ(*status.backoff_until, kStart + std::chrono::seconds(120));
  EXPECT_EQ(status.rate_limited, 1U);

  // Nothing is sent while backing off, neither now nor in the background.
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_backoff");
  EXPECT_TRUE(kds->prefetch_vcek(query));
  kds->wake();
  EXPECT_FALSE(kds->wait_idle(std::chrono::milliseconds(100)));
  EXPECT_EQ(kds_.request_count(), 1U);
  EXPECT_EQ(kds->status().queued, 1U);

  clock_->advance(std::chrono::seconds(121));
  kds->wake();
  ASSERT_TRUE(kds->wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(kds_.request_count(), 2U);
  EXPECT_TRUE(cache_->lookup_vcek(query));
  status = kds->status();
  EXPECT_FALSE(status.backoff_until);
  EXPECT_EQ(status.breaker, BreakerState::Closed);
}

TEST_F(SnpKdsFetcherTest, ServiceUnavailableBacksOffExponentially) {
  const auto kds = fetcher();
  const VcekQuery query = query_of(*chip_);
  kds_.fail_next(2, http(503));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_rate_limited");
  EXPECT_EQ(*kds->status().backoff_until, kStart + std::chrono::seconds(2));
  clock_->advance(std::chrono::seconds(2));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_rate_limited");
  EXPECT_EQ(*kds->status().backoff_until, kStart + std::chrono::seconds(2 + 4));
  clock_->advance(std::chrono::seconds(4));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "ok");
  EXPECT_EQ(kds_.request_count(), 3U);
}

TEST_F(SnpKdsFetcherTest, RetryAfterAsHttpDate) {
  const auto kds = fetcher();
  kds_.fail_next(1, http(429, "Sat, 01 Mar 2025 00:00:30 GMT"));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query_of(*chip_))), "snp.kds_rate_limited");
  EXPECT_EQ(*kds->status().backoff_until, kStart + std::chrono::seconds(30));
}

TEST_F(SnpKdsFetcherTest, CircuitBreakerOpensAndCloses) {
  const auto kds = fetcher();
  const VcekQuery query = query_of(*chip_);
  kds_.fail_next(2, http(500));
  kds_.fail_next(1, dropped());
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_http_status");
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_http_status");
  EXPECT_EQ(kds->status().breaker, BreakerState::Closed);
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_unreachable");
  auto status = kds->status();
  EXPECT_EQ(status.breaker, BreakerState::Open);
  EXPECT_EQ(status.consecutive_failures, 3U);
  ASSERT_TRUE(status.breaker_open_until);
  EXPECT_EQ(*status.breaker_open_until, kStart + std::chrono::seconds(60));

  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_circuit_open");
  EXPECT_EQ(kds_.request_count(), 3U);

  clock_->advance(std::chrono::seconds(60));
  EXPECT_EQ(kds->status().breaker, BreakerState::HalfOpen);
  kds_.fail_next(1, http(500));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_http_status") << "failed probe";
  EXPECT_EQ(kds->status().breaker, BreakerState::Open);
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_circuit_open");

  clock_->advance(std::chrono::seconds(60));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "ok") << "successful probe";
  status = kds->status();
  EXPECT_EQ(status.breaker, BreakerState::Closed);
  EXPECT_EQ(status.consecutive_failures, 0U);
  EXPECT_EQ(kds_.request_count(), 5U);
}

TEST_F(SnpKdsFetcherTest, ConcurrentRequestsShareOneFlight) {
  const auto kds = fetcher();
  const VcekQuery query = query_of(*chip_);
  kds_.hold();
  Outcome<Bytes> first = Failure{}, second = Failure{};
  std::thread a([&] { first = kds->fetch_vcek_now(query); });
  wait_until([this] { return kds_.held() == 1; });
  std::thread b([&] { second = kds->fetch_vcek_now(query); });
  wait_until([&kds] { return kds->status().coalesced == 1; });
  kds_.release();
  a.join();
  b.join();
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(kds_.request_count(), 1U);
}

TEST_F(SnpKdsFetcherTest, NotFoundIsRememberedAndDoesNotTripTheBreaker) {
  const auto kds = fetcher();
  std::vector<VcekQuery> unknown;
  for (std::uint8_t i = 0; i < 4; ++i) {
    VcekQuery query = query_of(*chip_);
    query.chip_id[0] = static_cast<std::uint8_t>(0xf0 + i);
    unknown.push_back(query);
    EXPECT_EQ(outcome(kds->fetch_vcek_now(query)), "snp.kds_not_found");
  }
  EXPECT_EQ(kds->status().breaker, BreakerState::Closed);
  EXPECT_EQ(outcome(kds->fetch_vcek_now(unknown[0])), "snp.kds_not_found");
  EXPECT_FALSE(kds->prefetch_vcek(unknown[0]));
  EXPECT_EQ(kds_.request_count(), 4U);
  auto status = kds->status();
  EXPECT_EQ(status.not_found, 4U);
  EXPECT_EQ(status.suppressed, 2U);
  clock_->advance(std::chrono::seconds(3601));
  EXPECT_EQ(outcome(kds->fetch_vcek_now(unknown[0])), "snp.kds_not_found");
  EXPECT_EQ(kds_.request_count(), 5U);
}

TEST_F(SnpKdsFetcherTest, InvalidAnswersAreNotCached) {
  const auto kds = fetcher();
  const VcekQuery query = query_of(*chip_);
  FakeHttpResponse garbage = http(200);
  garbage.body = "garbage";
  kds_.set_route(kds_vcek_path(query), garbage);
  auto result = kds->fetch_vcek_now(query);
  EXPECT_EQ(outcome(result), "snp.kds_response_invalid");
  EXPECT_NE(result.error().detail.find("snp.certificate_malformed"), std::string::npos);

  const Bytes other = chip(0xb0)->leaf_der();
  FakeHttpResponse wrong = http(200);
  wrong.body.assign(other.begin(), other.end());
  kds_.set_route(kds_vcek_path(query), wrong);
  result = kds->fetch_vcek_now(query);
  EXPECT_EQ(outcome(result), "snp.kds_response_invalid");
  EXPECT_NE(result.error().detail.find("snp.chip_id_mismatch"), std::string::npos);
  EXPECT_FALSE(cache_->lookup_vcek(query));
  EXPECT_EQ(kds->status().failures, 2U);
}

TEST_F(SnpKdsFetcherTest, ChainAndCrl) {
  const Bytes crl = *pki()->issue_crl(false, false, kStart, kStart + std::chrono::days(30));
  kds_.set_crl(Product::Milan, Signer::Vcek, crl);
  kds_.set_cert_chain(Product::Milan, Signer::Vcek,
                      pem_of(pki()->ask_der()) + pem_of(pki()->ark_der()));
  // Fetched CRLs are vetted against the ARK: here the mock one (crl_test.cpp tests the vetting).
  KdsFetcherOptions options;
  auto anchors = TrustAnchors::insecure_for_testing(pki()->ark_der(), {}, {});
  ASSERT_TRUE(anchors);
  options.crl_anchors = *anchors;
  const auto kds = fetcher(options);
  const auto fetched_crl = kds->fetch_crl_now(Product::Milan, Signer::Vcek);
  ASSERT_TRUE(fetched_crl) << fetched_crl.error().describe();
  EXPECT_EQ(*fetched_crl, crl);
  EXPECT_EQ(cache_->crls().size(), 1U);
  const auto chain = kds->fetch_cert_chain_now(Product::Milan, Signer::Vcek);
  ASSERT_TRUE(chain) << chain.error().describe();
  ASSERT_EQ(chain->size(), 2U);
  EXPECT_EQ((*chain)[0], pki()->ask_der());
  EXPECT_EQ((*chain)[1], pki()->ark_der());
  EXPECT_TRUE(kds->fetch_cert_chain_now(Product::Milan, Signer::Vcek));
  EXPECT_EQ(kds_.request_count(), 2U) << "the chain comes from the cache the second time";
  EXPECT_EQ(outcome(kds->fetch_crl_now(Product::Genoa, Signer::Vcek)), "snp.kds_not_found");

  // The cached CRL feeds the verifier (it must be signed by the trusted ARK and current).
  ASSERT_TRUE(kds->fetch_vcek_now(query_of(*chip_)));
  auto verifier_options = pki()->insecure_verifier_options();
  verifier_options.crls = cache_->crls();
  const SnpVerifier verifier(cache_, verifier_options);
  const auto claims = verifier.verify_evidence(AttestationType::SevSnp,
                                               *chip_->generate(binding(3)), binding(3), kStart);
  EXPECT_TRUE(claims) << claims.error().describe();
}

TEST_F(SnpKdsFetcherTest, BackgroundQueueIsBounded) {
  KdsFetcherOptions options;
  options.max_queue = 1;
  const auto kds = fetcher(options);
  kds_.hold();
  EXPECT_TRUE(kds->prefetch_vcek(query_of(*chip_)));
  wait_until([this] { return kds_.held() == 1; });
  EXPECT_TRUE(kds->prefetch_vcek(query_of(*chip(0xc0))));
  EXPECT_FALSE(kds->prefetch_vcek(query_of(*chip(0xd0))));
  EXPECT_EQ(kds->status().queue_dropped, 1U);
  kds_.release();
  EXPECT_TRUE(kds->wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(kds_.request_count(), 2U);
}

TEST_F(SnpKdsFetcherTest, InvalidBaseUrl) {
  KdsFetcherOptions options;
  options.base_url = "ftp://kds.invalid";
  const auto created = KdsFetcher::create(options, cache_, nullptr, clock_);
  ASSERT_FALSE(created);
  EXPECT_EQ(error_id(created.error().code), "snp.kds_invalid_base_url");
}

}  // namespace
}  // namespace atls::attest::snp
