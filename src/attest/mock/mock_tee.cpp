#include "attest/mock/mock_tee.h"

#include "attest/errors.h"
#include "attest/mock/snp_mock.h"
#include "tls/credentials.h"

namespace atls::attest::mock {

namespace fs = std::filesystem;

Outcome<void> init_mock_tee(const fs::path& directory) {
  auto snp = MockSnpPki::generate();
  if (!snp) {
    return snp.error();
  }
  return (*snp)->save(directory);
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
  return Failure{make_error_code(Errc::GenerationUnavailable),
                 std::string("the mock TEE cannot produce ") + std::string(to_string(type)) +
                     " evidence"};
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
  if (verifiers.empty()) {
    return Failure{make_error_code(Errc::GenerationUnavailable),
                   "no mock TEE roots in " + directory.string() +
                       " (create them with: atls-proxy mock-tee init DIR)"};
  }
  return verifiers;
}

}  // namespace atls::attest::mock
