// TDX DCAP quote verification cost, in units of one ECDSA P-256 verification.
//
//   BM_P256Verify           one EVP_DigestVerify (P-256/SHA-256) over a 632-byte message: the unit
//   BM_TdxVerifyRealWarm    flashbots dcap-tdx-1766059550570652607 + collateral-00, warm caches
//   BM_TdxVerifierRealWarm  same through TdxVerifier (collateral source lookup included)
//   BM_TdxVerifyMockWarm    distinct mock quotes (fresh REPORTDATA each) under one mock PKI
//   BM_TdxVerifyRealCold    a fresh QuoteVerifier per quote (every cache empty)
//
// Each TDX benchmark reports `p256_units` = its time per quote / the time of one P-256 verify
// measured in the same process. Target (warm): < 4.
//
// The real vector is read from the shared test data (ATLS_TESTDATA_DIR, default
// ../shared/testdata next to the checkout).

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "attest/mock/tdx_mock.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/quote_verifier.h"
#include "attest/tdx/tdx_verifier.h"
#include "tls/certificate_builder.h"

namespace {

using namespace atls;
using namespace atls::attest;

std::filesystem::path testdata_root() {
  if (const char* dir = std::getenv("ATLS_TESTDATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return std::filesystem::path(__FILE__).parent_path() / "../../../shared/testdata";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// One P-256 verification (key and signature prepared once), as the verifier does it.
struct P256Fixture {
  tls::EvpPkeyPtr key;
  Bytes message = Bytes(632, 0x5a);
  Bytes signature;

  P256Fixture() {
    key = std::move(tls::generate_key(tls::KeyAlgorithm::EcP256).value());
    std::unique_ptr<EVP_MD_CTX, tls::OsslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
    std::size_t size = 0;
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(ctx.get(), nullptr, &size, message.data(), message.size());
    signature.resize(size);
    EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size());
    signature.resize(size);
  }

  bool verify() const {
    std::unique_ptr<EVP_MD_CTX, tls::OsslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
    return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size()) == 1;
  }
};

/// Seconds per P-256 verification, measured once per process.
double p256_seconds() {
  static const double seconds = [] {
    const P256Fixture fixture;
    constexpr int kRounds = 2000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
      benchmark::DoNotOptimize(fixture.verify());
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
           kRounds;
  }();
  return seconds;
}

/// Runs `body` in the benchmark loop and reports its cost in P-256 verifications.
template <class F>
void run_in_p256_units(benchmark::State& state, F&& body) {
  const double unit = p256_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::int64_t quotes = 0;
  for (auto _ : state) {
    if (!body()) {
      state.SkipWithError("verification failed");
      return;
    }
    ++quotes;
  }
  const double per_quote =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(std::max<std::int64_t>(quotes, 1));
  state.counters["p256_units"] = per_quote / unit;
  state.counters["p256_us"] = unit * 1e6;
}

void BM_P256Verify(benchmark::State& state) {
  const P256Fixture fixture;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fixture.verify());
  }
}
BENCHMARK(BM_P256Verify);

struct RealVector {
  Bytes quote;
  ReportData expected{};
  tdx::CollateralPtr collateral;
  SystemTime now = SystemTime(std::chrono::seconds(1769509141));
  bool ok = false;

  RealVector() {
    const auto root = testdata_root();
    const std::string quote_text =
        read_file(root / "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607");
    quote.assign(quote_text.begin(), quote_text.end());
    auto documents = tdx::collateral_from_json(read_file(
        root / "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json"));
    if (quote.size() < 632 || !documents) {
      return;
    }
    std::copy(quote.begin() + 568, quote.begin() + 632, expected.begin());
    auto parsed = tdx::Collateral::parse(std::move(*documents));
    if (!parsed) {
      return;
    }
    collateral = *parsed;
    ok = true;
  }
};

void BM_TdxVerifyRealWarm(benchmark::State& state) {
  const RealVector vector;
  if (!vector.ok) {
    state.SkipWithError("shared test data not found (set ATLS_TESTDATA_DIR)");
    return;
  }
  const tdx::QuoteVerifier verifier(tdx::TrustAnchors::intel_production().value());
  // Warm: collateral checks, PCK chain, QE report signature and key import are memoised.
  if (!verifier.verify(vector.quote, *vector.collateral, vector.now, vector.expected)) {
    state.SkipWithError("vector does not verify");
    return;
  }
  run_in_p256_units(state, [&] {
    return static_cast<bool>(
        verifier.verify(vector.quote, *vector.collateral, vector.now, vector.expected));
  });
}
BENCHMARK(BM_TdxVerifyRealWarm);

void BM_TdxVerifierRealWarm(benchmark::State& state) {
  const RealVector vector;
  if (!vector.ok) {
    state.SkipWithError("shared test data not found (set ATLS_TESTDATA_DIR)");
    return;
  }
  auto source = std::make_shared<tdx::StaticCollateralSource>();
  (void)source->add(vector.collateral);
  const tdx::TdxVerifier verifier(source);
  (void)verifier.verify(AttestationType::DcapTdx, vector.quote, vector.expected, vector.now);
  run_in_p256_units(state, [&] {
    return static_cast<bool>(
        verifier.verify(AttestationType::DcapTdx, vector.quote, vector.expected, vector.now));
  });
}
BENCHMARK(BM_TdxVerifierRealWarm);

void BM_TdxVerifyMockWarm(benchmark::State& state) {
  const SystemTime now = std::chrono::system_clock::now();
  const auto pki = mock::MockTdxPki::create(now).value();
  const auto attester = mock::MockTdxAttester::create(pki).value();
  const auto verifier = pki->make_verifier();
  // Distinct quotes (distinct REPORTDATA, as in a handshake) from one platform.
  constexpr std::size_t kQuotes = 64;
  std::vector<std::pair<ReportData, Bytes>> quotes;
  for (std::size_t i = 0; i < kQuotes; ++i) {
    ReportData data{};
    data[0] = static_cast<std::uint8_t>(i);
    quotes.emplace_back(data, attester->generate(data).value());
  }
  (void)verifier->verify(AttestationType::DcapTdx, quotes[0].second, quotes[0].first, now);
  std::size_t next = 0;
  run_in_p256_units(state, [&] {
    const auto& [data, quote] = quotes[next++ % kQuotes];
    return static_cast<bool>(verifier->verify(AttestationType::DcapTdx, quote, data, now));
  });
}
BENCHMARK(BM_TdxVerifyMockWarm);

void BM_TdxVerifyRealCold(benchmark::State& state) {
  const RealVector vector;
  if (!vector.ok) {
    state.SkipWithError("shared test data not found (set ATLS_TESTDATA_DIR)");
    return;
  }
  const auto anchors = tdx::TrustAnchors::intel_production().value();
  run_in_p256_units(state, [&] {
    const tdx::QuoteVerifier verifier(anchors);
    return static_cast<bool>(
        verifier.verify(vector.quote, *vector.collateral, vector.now, vector.expected));
  });
}
BENCHMARK(BM_TdxVerifyRealCold);

}  // namespace
