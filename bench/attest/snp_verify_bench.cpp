// SEV-SNP verification cost (src/attest/snp): full verification of evidence that carries its
// certificates, cold (every chain signature checked: 2 × RSA-4096-PSS + ECDSA P-384) and with
// a warm chain cache (chains cached by certificate hashes; the report signature, validity,
// chip-id/TCB binding and REPORT_DATA are still checked per report), against the bare
// ECDSA P-384 verification that bounds the warm case. Evidence comes from the INSECURE MOCK
// SNP PKI (same shape and key sizes as AMD's), so no test data is needed.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdlib>

#include "attest/mock/snp_mock.h"
#include "attest/snp/evidence.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_verifier.h"

namespace {

using namespace atls;          // NOLINT(google-build-using-namespace)
using namespace atls::attest;  // NOLINT(google-build-using-namespace)

const SystemTime kNow = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);

struct Fixture {
  std::shared_ptr<const mock::MockSnpPki> pki;
  std::shared_ptr<mock::MockSnpAttester> attester;
  ReportData report_data{};
  Bytes evidence;
};

const Fixture& fixture() {
  static const Fixture kFixture = [] {
    Fixture f;
    auto pki = mock::MockSnpPki::shared();
    if (!pki) {
      std::abort();
    }
    f.pki = *pki;
    auto attester = mock::MockSnpAttester::create(f.pki, {});
    if (!attester) {
      std::abort();
    }
    f.attester = *attester;
    f.report_data.fill(0x42);
    auto evidence = f.attester->generate(f.report_data);
    if (!evidence) {
      std::abort();
    }
    f.evidence = std::move(*evidence);
    return f;
  }();
  return kFixture;
}

void verify_loop(benchmark::State& state, const snp::SnpVerifier& verifier) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto result = verifier.verify(AttestationType::SevSnp, f.evidence, f.report_data, kNow);
    if (!result) {
      state.SkipWithError("verification failed");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
}

void BM_SnpVerifyColdChain(benchmark::State& state) {
  auto options = fixture().pki->insecure_verifier_options();
  options.chain_cache_capacity = 0;
  const snp::SnpVerifier verifier(nullptr, options);
  verify_loop(state, verifier);
}
BENCHMARK(BM_SnpVerifyColdChain)->Unit(benchmark::kMicrosecond);

void BM_SnpVerifyWarmChainCache(benchmark::State& state) {
  const snp::SnpVerifier verifier(nullptr, fixture().pki->insecure_verifier_options());
  verify_loop(state, verifier);
}
BENCHMARK(BM_SnpVerifyWarmChainCache)->Unit(benchmark::kMicrosecond);

void BM_SnpDecodeAndParse(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto evidence = snp::decode_evidence(f.evidence);
    auto report = snp::parse_report(evidence->report);
    benchmark::DoNotOptimize(report);
  }
}
BENCHMARK(BM_SnpDecodeAndParse)->Unit(benchmark::kMicrosecond);

// Baseline: one ECDSA P-384 / SHA-384 verification of the report's 672 signed bytes, with a
// DER signature prepared in advance.
void BM_EcdsaP384VerifyBaseline(benchmark::State& state) {
  EVP_PKEY* key = EVP_EC_gen("P-384");
  const Bytes message(snp::kSignedSize, 0x5a);
  EVP_MD_CTX* sign = EVP_MD_CTX_new();
  std::size_t length = 0;
  EVP_DigestSignInit(sign, nullptr, EVP_sha384(), nullptr, key);
  EVP_DigestSign(sign, nullptr, &length, message.data(), message.size());
  Bytes signature(length);
  EVP_DigestSign(sign, signature.data(), &length, message.data(), message.size());
  signature.resize(length);
  EVP_MD_CTX_free(sign);
  EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  for (auto _ : state) {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(context, nullptr, sha384, nullptr, key);
    const int ok = EVP_DigestVerify(context, signature.data(), signature.size(), message.data(),
                                    message.size());
    EVP_MD_CTX_free(context);
    if (ok != 1) {
      state.SkipWithError("baseline verification failed");
      break;
    }
  }
  EVP_MD_free(sha384);
  EVP_PKEY_free(key);
}
BENCHMARK(BM_EcdsaP384VerifyBaseline)->Unit(benchmark::kMicrosecond);

}  // namespace
