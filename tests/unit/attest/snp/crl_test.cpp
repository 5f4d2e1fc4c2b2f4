// AMD CRLs kept fresh at run time (issue #4): the shared parser and signature check (crl.h),
// the KDS fetcher's vetting of a fetched CRL (signer, freshness, rollback) and its refresh
// schedule, the certificate cache's CRL generation, and the verifier applying the cache's CRLs
// as they change (SnpVerifierOptions::crl_source / crl_products). Everything runs on the
// INSECURE MOCK SNP PKI, with a scripted in-process transport instead of HTTP and a manual
// clock; no assertion depends on how long anything takes.
#include "attest/snp/crl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>

#include "attest/mock/snp_mock.h"
#include "attest/snp/amd_certificate.h"
#include "attest/snp/certificate_cache.h"
#include "attest/snp/errors.h"
#include "attest/snp/kds_client.h"
#include "attest/snp/snp_verifier.h"
#include "attest/snp/trust_anchors.h"
#include "support/manual_clock.h"
#include "support/process.h"

namespace atls::attest::snp {
// A named namespace: the unity build batches this file with kds_test.cpp, whose anonymous
// helpers have the same names.
namespace crl_test {
namespace {

using atls::testing::ManualClock;
using mock::MockSnpAttester;
using mock::MockSnpPki;
using std::chrono::hours;
using std::chrono::seconds;

const SystemTime kStart = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);
constexpr std::string_view kBase = "http://kds.test";

std::shared_ptr<const MockSnpPki> pki() {
  auto shared = MockSnpPki::shared();
  EXPECT_TRUE(shared) << (shared ? "" : shared.error().describe());
  return shared ? *shared : nullptr;
}

// An unrelated mock PKI: same names, other keys (a CRL from it is not signed by our ARK).
std::shared_ptr<const MockSnpPki> other_pki() {
  static const auto kOther = MockSnpPki::generate();
  EXPECT_TRUE(kOther);
  return kOther ? *kOther : nullptr;
}

std::shared_ptr<const TrustAnchors> mock_anchors() {
  auto anchors =
      TrustAnchors::insecure_for_testing(pki()->ark_der(), pki()->ask_der(), pki()->asvk_der());
  EXPECT_TRUE(anchors) << (anchors ? "" : anchors.error().describe());
  return anchors ? *anchors : nullptr;
}

Bytes crl(SystemTime this_update, SystemTime next_update, bool revoke_ask = false,
          bool revoke_asvk = false, const MockSnpPki* from = nullptr) {
  auto issued = (from != nullptr ? *from : *pki())
                    .issue_crl(revoke_ask, revoke_asvk, this_update, next_update);
  EXPECT_TRUE(issued) << (issued ? "" : issued.error().describe());
  return issued ? *issued : Bytes{};
}

ReportData binding(std::uint8_t seed) {
  ReportData data{};
  data.fill(seed);
  return data;
}

Bytes evidence(Signer signer = Signer::Vcek, Product product = Product::Milan) {
  mock::MockSnpConfig config;
  config.signer = signer;
  config.product = product;
  auto attester = MockSnpAttester::create(pki(), config);
  EXPECT_TRUE(attester) << (attester ? "" : attester.error().describe());
  auto generated = (*attester)->generate(binding(7));
  EXPECT_TRUE(generated);
  return generated ? *generated : Bytes{};
}

std::string outcome(const SnpVerifier& verifier, const Bytes& evidence, SystemTime now) {
  const auto result = verifier.verify_evidence(AttestationType::SevSnp, evidence, binding(7), now);
  return result ? "ok" : error_id(result.error().code);
}

template <class T>
std::string outcome(const Outcome<T>& result) {
  return result ? "ok" : error_id(result.error().code);
}

// KDS without HTTP: answers from a map of paths, or the scripted failures first; records every
// request.
class ScriptedKds final : public KdsTransport {
 public:
  Outcome<KdsHttpResponse> get(const std::string& url) const override {
    std::lock_guard lock(mutex_);
    requests_.push_back(url.substr(kBase.size()));
    if (!failures_.empty()) {
      KdsHttpResponse failure = failures_.front();
      failures_.pop_front();
      return failure;
    }
    const auto found = routes_.find(requests_.back());
    if (found == routes_.end()) {
      return KdsHttpResponse{404, {}, std::nullopt};
    }
    return KdsHttpResponse{200, found->second, std::nullopt};
  }

  void serve(const std::string& path, const Bytes& body) {
    std::lock_guard lock(mutex_);
    routes_[path] = std::string(body.begin(), body.end());
  }
  void remove(const std::string& path) {
    std::lock_guard lock(mutex_);
    routes_.erase(path);
  }
  void fail_next(unsigned count, unsigned status, std::optional<std::string> retry_after = {}) {
    std::lock_guard lock(mutex_);
    for (unsigned i = 0; i < count; ++i) {
      failures_.push_back(KdsHttpResponse{status, {}, retry_after});
    }
  }
  std::size_t count(const std::string& path) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(requests_.begin(), requests_.end(), path));
  }
  std::size_t total() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> routes_;
  mutable std::deque<KdsHttpResponse> failures_;
  mutable std::vector<std::string> requests_;
};

const std::string kMilanVcek = "/vcek/v1/Milan/crl";
const std::string kMilanVlek = "/vlek/v1/Milan/crl";

class SnpCrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki());
    auto cache = CertificateCache::open({std::filesystem::path(dir_.path()) / "cache", 16});
    ASSERT_TRUE(cache);
    cache_ = *cache;
  }

  // A fetcher over the scripted KDS that trusts the mock ARK for CRLs.
  std::shared_ptr<KdsFetcher> fetcher(std::vector<Product> products = {},
                                      seconds interval = hours(24)) {
    KdsFetcherOptions options;
    options.base_url = std::string(kBase);
    options.breaker = {100, seconds(60)};
    options.crl_products = std::move(products);
    options.crl_refresh_interval = interval;
    options.crl_anchors = mock_anchors();
    options.fetch_on_miss = false;
    auto created = KdsFetcher::create(options, cache_, transport_, clock_);
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }

  // A verifier with the mock anchors that requires the cache's CRLs for `products`.
  std::shared_ptr<const SnpVerifier> verifier(std::vector<Product> products = {Product::Milan}) {
    auto options = pki()->insecure_verifier_options();
    options.crl_source = cache_;
    options.crl_products = std::move(products);
    return std::make_shared<const SnpVerifier>(nullptr, std::move(options));
  }

  static void settle(KdsFetcher& kds) { ASSERT_TRUE(kds.wait_idle(std::chrono::seconds(60))); }

  static const KdsCrlStatus& status_of(const std::vector<KdsCrlStatus>& all, Signer kind) {
    for (const auto& status : all) {
      if (status.product == Product::Milan && status.kind == kind) {
        return status;
      }
    }
    ADD_FAILURE() << "no Milan status";
    return all.front();
  }

  atls::testing::TempDir dir_;
  std::shared_ptr<CertificateCache> cache_;
  std::shared_ptr<ScriptedKds> transport_ = std::make_shared<ScriptedKds>();
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
};

// ---------------------------------------------------------------------------------------------
// crl.h

TEST_F(SnpCrlTest, ParserAndSignatureCheck) {
  const Bytes good = crl(kStart - hours(1), kStart + hours(24), true);
  const auto parsed = parse_amd_crl(good);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->this_update, to_unix_seconds(kStart - hours(1)));
  EXPECT_EQ(parsed->next_update, to_unix_seconds(kStart + hours(24)));
  const auto anchors = mock_anchors();
  EXPECT_TRUE(crl_signed_by(*parsed, anchors->for_product(Product::Milan).ark.get()));
  EXPECT_TRUE(
      crl_lists(*parsed, X509_get_serialNumber(anchors->for_product(Product::Milan).ask.get())));
  EXPECT_FALSE(
      crl_lists(*parsed, X509_get_serialNumber(anchors->for_product(Product::Milan).asvk.get())));
  EXPECT_EQ(outcome(parse_amd_crl_of(good, *anchors, Product::Genoa)), "ok")
      << "the test anchors serve every product";

  const Bytes foreign = crl(kStart, kStart + hours(24), false, false, other_pki().get());
  const auto refused = parse_amd_crl_of(foreign, *anchors, Product::Milan);
  EXPECT_EQ(outcome(refused), "snp.crl_signature_invalid");
  const auto pinned = TrustAnchors::pinned();
  ASSERT_TRUE(pinned);
  EXPECT_EQ(outcome(parse_amd_crl_of(good, **pinned, Product::Milan)), "snp.crl_signature_invalid")
      << "a mock CRL is not AMD's";

  // Truncated at every length, and with trailing bytes: crl_malformed, never a crash.
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(outcome(parse_amd_crl(ByteView(good).first(n))), "snp.crl_malformed") << n;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(outcome(parse_amd_crl(trailing)), "snp.crl_malformed");
  const auto checked = check_crl_der(trailing);
  ASSERT_FALSE(checked);
  EXPECT_EQ(error_id(checked.error()), "snp.crl_malformed");
}

// ---------------------------------------------------------------------------------------------
// CertificateCache as a CrlSource

TEST_F(SnpCrlTest, CacheGenerationAdvancesOnlyWhenACrlChanges) {
  EXPECT_EQ(cache_->crl_generation(), 0U);
  EXPECT_TRUE(cache_->crl_snapshot().crls.empty());
  const Bytes first = crl(kStart - hours(1), kStart + hours(24));
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vcek, first));
  EXPECT_EQ(cache_->crl_generation(), 1U);
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vcek, first));
  EXPECT_EQ(cache_->crl_generation(), 1U) << "the same bytes again";
  ASSERT_TRUE(cache_->store_crl(Product::Genoa, Signer::Vlek, crl(kStart, kStart + hours(2))));
  EXPECT_FALSE(cache_->store_crl(Product::Genoa, Signer::Vlek, Bytes{1, 2, 3}));
  const auto snapshot = cache_->crl_snapshot();
  EXPECT_EQ(snapshot.generation, 2U);
  ASSERT_EQ(snapshot.crls.size(), 2U);
  EXPECT_EQ(snapshot.crls[0].product, Product::Milan);
  EXPECT_EQ(snapshot.crls[0].kind, Signer::Vcek);
  EXPECT_EQ(snapshot.crls[0].der, first);
  EXPECT_EQ(snapshot.crls[1].product, Product::Genoa);
  EXPECT_EQ(snapshot.crls[1].kind, Signer::Vlek);
}

// ---------------------------------------------------------------------------------------------
// KdsFetcher: vetting

TEST_F(SnpCrlTest, FetchedCrlIsVettedBeforeItIsCached) {
  const auto kds = fetcher();
  const auto expect_refused = [&](const Bytes& body, std::string_view reason) {
    transport_->serve(kMilanVcek, body);
    const auto result = kds->fetch_crl_now(Product::Milan, Signer::Vcek);
    ASSERT_FALSE(result);
    EXPECT_EQ(error_id(result.error().code), "snp.kds_response_invalid");
    EXPECT_NE(result.error().detail.find(reason), std::string::npos) << result.error().detail;
  };
  expect_refused(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}, "snp.crl_malformed");
  expect_refused(crl(kStart - hours(1), kStart + hours(24), false, false, other_pki().get()),
                 "snp.crl_signature_invalid");
  expect_refused(crl(kStart - hours(48), kStart - hours(1)), "snp.crl_expired");
  expect_refused(crl(kStart - hours(48), kStart), "snp.crl_expired");  // nextUpdate == now
  expect_refused(crl(kStart + hours(1), kStart + hours(24)), "snp.crl_expired");  // not yet valid
  EXPECT_FALSE(cache_->crl(Product::Milan, Signer::Vcek));
  EXPECT_EQ(cache_->crl_generation(), 0U);

  // A good one is cached; an older (but still current, validly signed) one cannot replace it.
  const Bytes newer = crl(kStart - hours(1), kStart + hours(24));
  transport_->serve(kMilanVcek, newer);
  ASSERT_EQ(outcome(kds->fetch_crl_now(Product::Milan, Signer::Vcek)), "ok");
  EXPECT_EQ(cache_->crl(Product::Milan, Signer::Vcek), newer);
  expect_refused(crl(kStart - hours(2), kStart + hours(48), true), "snp.crl_rollback");
  EXPECT_EQ(cache_->crl(Product::Milan, Signer::Vcek), newer);
  EXPECT_EQ(cache_->crl_generation(), 1U);
  const auto status = kds->status();
  EXPECT_EQ(status.crl_refreshes_ok, 1U);
  EXPECT_EQ(status.crl_refreshes_failed, 6U);
  EXPECT_EQ(status.failures, 6U) << "invalid bodies count as upstream failures";
}

// ---------------------------------------------------------------------------------------------
// KdsFetcher: the refresh schedule

TEST_F(SnpCrlTest, ConfiguredCrlsAreFetchedAtOnceThenOnSchedule) {
  transport_->serve(kMilanVcek, crl(kStart - hours(1), kStart + hours(24 * 30)));
  transport_->serve(kMilanVlek, crl(kStart - hours(1), kStart + hours(24 * 30)));
  const auto kds = fetcher({Product::Milan, Product::Milan}, hours(6));
  ASSERT_TRUE(kds->warm_up_crls(std::chrono::seconds(60))) << "both fetched at creation";
  settle(*kds);
  EXPECT_EQ(transport_->count(kMilanVcek), 1U);
  EXPECT_EQ(transport_->count(kMilanVlek), 1U);
  auto all = kds->crl_status();
  ASSERT_EQ(all.size(), 2U) << "Milan listed twice counts once";
  const KdsCrlStatus& vcek = status_of(all, Signer::Vcek);
  EXPECT_TRUE(vcek.present);
  EXPECT_EQ(vcek.last_success, kStart);
  EXPECT_EQ(vcek.next_update, kStart + hours(24 * 30));
  EXPECT_EQ(vcek.next_refresh, kStart + hours(6)) << "the interval comes first";
  EXPECT_FALSE(vcek.last_error);

  // Not due yet: nothing is sent.
  clock_->advance(hours(5));
  kds->wake();
  settle(*kds);
  EXPECT_EQ(transport_->total(), 2U);

  // Due: both are fetched again; the VCEK CRL is now one valid for 8 hours from 5 h, so its
  // next refresh is at 3/4 of that (11 h), before the interval (12 h).
  transport_->serve(kMilanVcek, crl(kStart + hours(5), kStart + hours(13)));
  clock_->advance(hours(1));
  kds->wake();
  settle(*kds);
  EXPECT_EQ(transport_->count(kMilanVcek), 2U);
  EXPECT_EQ(transport_->count(kMilanVlek), 2U);
  EXPECT_EQ(status_of(kds->crl_status(), Signer::Vcek).next_refresh, kStart + hours(11));
  EXPECT_EQ(status_of(kds->crl_status(), Signer::Vlek).next_refresh, kStart + hours(12));

  clock_->advance(hours(5));
  kds->wake();
  settle(*kds);
  EXPECT_EQ(transport_->count(kMilanVcek), 3U);
  EXPECT_EQ(transport_->count(kMilanVlek), 2U);
  // KDS keeps serving it past its 3/4 point: the next refresh is spaced, not a loop.
  EXPECT_EQ(status_of(kds->crl_status(), Signer::Vcek).next_refresh,
            kStart + hours(11) + kMinCrlRefreshSpacing);
}

TEST_F(SnpCrlTest, FailedRefreshesRetryWithBackoffAndKeepTheCachedCrl) {
  const Bytes good = crl(kStart - hours(1), kStart + hours(24 * 30));
  transport_->serve(kMilanVcek, good);
  transport_->serve(kMilanVlek, good);
  const auto kds = fetcher({Product::Milan}, hours(1));
  ASSERT_TRUE(kds->warm_up_crls(std::chrono::seconds(60)));
  settle(*kds);
  const auto v = verifier();
  const Bytes milan = evidence();
  EXPECT_EQ(outcome(*v, milan, clock_->now()), "ok");

  // KDS fails (500): the refresh is retried after 30 s, then 60 s; the cached CRL still serves.
  transport_->remove(kMilanVlek);  // 404 for the VLEK CRL: an answer, not a breaker failure
  transport_->fail_next(1, 500);
  clock_->advance(hours(1));
  kds->wake();
  settle(*kds);
  const SystemTime failed_at = clock_->now();
  auto vcek = status_of(kds->crl_status(), Signer::Vcek);
  auto vlek = status_of(kds->crl_status(), Signer::Vlek);
  ASSERT_TRUE(vcek.last_error);
  EXPECT_EQ(error_id(vcek.last_error->code), "snp.kds_http_status");
  EXPECT_EQ(vcek.consecutive_failures, 1U);
  EXPECT_EQ(vcek.next_refresh, failed_at + seconds(30));
  EXPECT_TRUE(vcek.present) << "the cached CRL stays";
  ASSERT_TRUE(vlek.last_error);
  EXPECT_EQ(error_id(vlek.last_error->code), "snp.kds_not_found");
  EXPECT_EQ(outcome(*v, milan, clock_->now()), "ok");

  transport_->fail_next(1, 500);
  clock_->advance(seconds(30));
  kds->wake();
  settle(*kds);
  vcek = status_of(kds->crl_status(), Signer::Vcek);
  EXPECT_EQ(vcek.consecutive_failures, 2U);
  EXPECT_EQ(vcek.next_refresh, failed_at + seconds(30) + seconds(60));

  // A rate limit with Retry-After holds every request until its deadline.
  transport_->fail_next(1, 429, "600");
  clock_->advance(seconds(60));
  kds->wake();
  settle(*kds);
  const std::size_t sent = transport_->total();
  clock_->advance(seconds(300));
  kds->wake();
  settle(*kds);
  EXPECT_EQ(transport_->total(), sent) << "backing off";
  clock_->advance(seconds(301));
  kds->wake();
  settle(*kds);
  EXPECT_GT(transport_->total(), sent);
  vcek = status_of(kds->crl_status(), Signer::Vcek);
  EXPECT_EQ(vcek.consecutive_failures, 0U);
  EXPECT_FALSE(vcek.last_error);
  EXPECT_EQ(vcek.last_success, clock_->now());
}

TEST_F(SnpCrlTest, RestoredCrlIsRefreshedAtStartAndWarmUpReportsMissingOnes) {
  // A restart finds a cached CRL: it applies at once and is fetched again anyway.
  ASSERT_TRUE(
      cache_->store_crl(Product::Milan, Signer::Vcek, crl(kStart - hours(48), kStart + hours(24))));
  transport_->serve(kMilanVcek, crl(kStart - hours(1), kStart + hours(24 * 30)));
  const auto kds = fetcher({Product::Milan});
  const auto warmed = kds->warm_up_crls(std::chrono::seconds(60));
  ASSERT_FALSE(warmed) << "the VLEK CRL does not exist";
  EXPECT_EQ(error_id(warmed.error().code), "snp.crl_missing");
  EXPECT_NE(warmed.error().detail.find("Milan vlek: snp.kds_not_found"), std::string::npos)
      << warmed.error().detail;
  EXPECT_EQ(warmed.error().detail.find("Milan vcek"), std::string::npos);
  EXPECT_EQ(parse_amd_crl(*cache_->crl(Product::Milan, Signer::Vcek))->this_update,
            to_unix_seconds(kStart - hours(1)));
}

// ---------------------------------------------------------------------------------------------
// SnpVerifier with a CrlSource

TEST_F(SnpCrlTest, VerifierRequiresAndFollowsTheSourcesCrls) {
  const auto v = verifier({Product::Milan});
  const Bytes vcek_evidence = evidence(Signer::Vcek);
  const Bytes vlek_evidence = evidence(Signer::Vlek);
  const SystemTime now = kStart;

  // Nothing fetched yet: fail closed.
  const auto missing = v->verify_evidence(AttestationType::SevSnp, vcek_evidence, binding(7), now);
  ASSERT_FALSE(missing);
  EXPECT_EQ(error_id(missing.error().code), "snp.crl_missing");
  EXPECT_NE(missing.error().detail.find("/vcek/v1/Milan/crl"), std::string::npos)
      << missing.error().detail;

  // The same verifier picks up each new generation.
  ASSERT_TRUE(
      cache_->store_crl(Product::Milan, Signer::Vcek, crl(now - hours(1), now + hours(24))));
  EXPECT_EQ(outcome(*v, vcek_evidence, now), "ok");
  EXPECT_EQ(outcome(*v, vlek_evidence, now), "snp.crl_missing") << "VLEK chains need theirs";
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vlek,
                                crl(now - hours(1), now + hours(24), false, true)));
  EXPECT_EQ(outcome(*v, vlek_evidence, now), "snp.certificate_revoked");
  EXPECT_EQ(outcome(*v, vcek_evidence, now), "ok") << "the VLEK CRL does not list the ASK";

  // A refreshed VCEK CRL revokes the ASK: the cached chain does not hide it.
  ASSERT_TRUE(
      cache_->store_crl(Product::Milan, Signer::Vcek, crl(now, now + hours(24), true, false)));
  EXPECT_EQ(outcome(*v, vcek_evidence, now), "snp.certificate_revoked");
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vcek, crl(now, now + hours(25))));
  EXPECT_EQ(outcome(*v, vcek_evidence, now), "ok");
  EXPECT_EQ(outcome(*v, vcek_evidence, now + hours(26)), "snp.crl_expired");

  // A cached CRL that is not signed by the product's ARK is unusable: missing, with the reason.
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vcek,
                                crl(now, now + hours(24), false, false, other_pki().get())));
  const auto unusable = v->verify_evidence(AttestationType::SevSnp, vcek_evidence, binding(7), now);
  ASSERT_FALSE(unusable);
  EXPECT_EQ(error_id(unusable.error().code), "snp.crl_missing");
  EXPECT_NE(unusable.error().detail.find("snp.crl_signature_invalid"), std::string::npos)
      << unusable.error().detail;
}

TEST_F(SnpCrlTest, ProductsNotListedAreNotRevocationChecked) {
  // Revoking CRLs are cached, but only Genoa is required: a Milan chain is not checked.
  ASSERT_TRUE(cache_->store_crl(Product::Milan, Signer::Vcek,
                                crl(kStart - hours(1), kStart + hours(1), true)));
  const Bytes milan = evidence(Signer::Vcek, Product::Milan);
  EXPECT_EQ(outcome(*verifier({Product::Genoa}), milan, kStart), "ok");
  EXPECT_EQ(outcome(*verifier({}), milan, kStart + hours(48)), "ok") << "an expired one neither";
  EXPECT_EQ(outcome(*verifier({Product::Milan}), milan, kStart), "snp.certificate_revoked");

  // Required without a source: fail closed.
  auto options = pki()->insecure_verifier_options();
  options.crl_products = {Product::Milan};
  EXPECT_EQ(outcome(SnpVerifier(nullptr, options), milan, kStart), "snp.crl_missing");
}

TEST_F(SnpCrlTest, RefreshedRevocationReachesTheVerifier) {
  // End to end: the worker refreshes the CRL, the verifier refuses the revoked ASK at once.
  transport_->serve(kMilanVcek, crl(kStart - hours(1), kStart + hours(24 * 30)));
  transport_->serve(kMilanVlek, crl(kStart - hours(1), kStart + hours(24 * 30)));
  const auto kds = fetcher({Product::Milan}, hours(1));
  ASSERT_TRUE(kds->warm_up_crls(std::chrono::seconds(60)));
  settle(*kds);
  const auto v = verifier({Product::Milan});
  const Bytes milan = evidence();
  EXPECT_EQ(outcome(*v, milan, clock_->now()), "ok");

  clock_->advance(hours(1));
  transport_->serve(kMilanVcek, crl(clock_->now(), clock_->now() + hours(24 * 30), true));
  kds->wake();
  settle(*kds);
  EXPECT_EQ(outcome(*v, milan, clock_->now()), "snp.certificate_revoked");
}

}  // namespace
}  // namespace crl_test
}  // namespace atls::attest::snp
