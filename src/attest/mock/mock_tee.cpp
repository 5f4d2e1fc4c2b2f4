#include "attest/mock/mock_tee.h"

#include <fstream>
#include <sstream>

#include "attest/errors.h"
#include "attest/mock/snp_mock.h"
#include "attest/mock/tdx_mock.h"
#include "core/clock.h"
#include "tls/credentials.h"

namespace atls::attest::mock {

namespace fs = std::filesystem;

namespace {

/// The mock TDX collateral of a mock TEE directory is valid for a year from `init` (a test
/// directory outlives a run; the refresh logic is tested against a fake PCS instead).
constexpr auto kMockTeeTdxLifetime = std::chrono::hours(24 * 365);

Outcome<AttesterPtr> make_tdx_attester(const fs::path& directory, AttestationType type) {
  auto pki = MockTdxPki::load(directory);
  if (!pki) {
    return pki.error();
  }
  MockTdxQuoteOptions options;
  const fs::path measurements = directory / "tdx-measurements.json";
  std::error_code ec;
  if (fs::exists(measurements, ec)) {
    std::ifstream in(measurements, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return Failure{make_error_code(TdxMockErrc::ImportFailed), measurements.string()};
    }
    if (auto applied = apply_mock_tdx_measurements(text.str(), options); !applied) {
      return Failure{applied.error().code, measurements.string() + ": " + applied.error().detail};
    }
  }
  auto attester = MockTdxAttester::create(std::move(*pki), options, type);
  if (!attester) {
    return attester.error();
  }
  return AttesterPtr(std::move(*attester));
}

}  // namespace

Outcome<void> init_mock_tee(const fs::path& directory) {
  auto snp = MockSnpPki::generate();
  if (!snp) {
    return snp.error();
  }
  if (auto saved = (*snp)->save(directory); !saved) {
    return saved.error();
  }
  MockTdxPkiOptions tdx_options;
  tdx_options.document_lifetime = kMockTeeTdxLifetime;
  tdx_options.crl_lifetime = kMockTeeTdxLifetime;
  auto tdx = MockTdxPki::create(SystemClock().now(), tdx_options);
  if (!tdx) {
    return tdx.error();
  }
  return (*tdx)->save(directory);
}

Outcome<AttesterPtr> make_mock_attester(const fs::path& directory, AttestationType type) {
  if (family_of(type) == Family::Snp) {
    auto pki = MockSnpPki::load(directory);
    if (!pki) {
      return pki.error();
    }
    MockSnpConfig config;
    config.type = type;
    auto attester = MockSnpAttester::create(std::move(*pki), config);
    if (!attester) {
      return attester.error();
    }
    return AttesterPtr(std::move(*attester));
  }
  if (type == AttestationType::DcapTdx || type == AttestationType::GcpTdx ||
      type == AttestationType::QemuTdx) {
    // Raw DCAP quotes (interop §4.1); azure-tdx evidence (vTPM + HCL report) is not mocked.
    return make_tdx_attester(directory, type);
  }
  return Failure{
      make_error_code(Errc::GenerationUnavailable),
      std::string("the mock TEE cannot produce ") + std::string(to_string(type)) + " evidence"};
}

Outcome<std::vector<VerifierPtr>> make_mock_verifiers(const fs::path& directory) {
  std::vector<VerifierPtr> verifiers;
  if (fs::exists(directory / "snp-ark.crt")) {
    auto ark = tls::load_certificates(directory / "snp-ark.crt");
    if (!ark) {
      return ark.error();
    }
    auto verifier = make_insecure_mock_snp_verifier(tls::to_pem(ark->front().get()));
    if (!verifier) {
      return verifier.error();
    }
    verifiers.push_back(std::move(*verifier));
  }
  if (fs::exists(directory / "tdx-root.crt")) {
    auto tdx = load_mock_tdx_verifier(directory);
    if (!tdx) {
      return tdx.error();
    }
    verifiers.push_back(std::move(tdx->verifier));
  }
  if (verifiers.empty()) {
    return Failure{make_error_code(Errc::GenerationUnavailable),
                   "no mock TEE roots in " + directory.string() +
                       " (create them with: atls-proxy mock-tee init DIR)"};
  }
  return verifiers;
}

}  // namespace atls::attest::mock
