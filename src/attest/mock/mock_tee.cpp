#include "attest/mock/mock_tee.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attest/errors.h"
#include "attest/mock/snp_mock.h"
#include "attest/mock/tdx_mock.h"
#include "attest/snp/amd_certificate.h"
#include "core/clock.h"
#include "tls/certificate_builder.h"
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

Failure mock_failure(TdxMockErrc code, const fs::path& path, std::string_view detail) {
  return Failure{make_error_code(code), path.string() + ": " + std::string(detail)};
}

/// Writes `content` to `path` through a temporary file and a rename, so that a concurrent
/// reader sees the old file or the whole new one.
Outcome<void> write_atomically(const fs::path& path, std::string_view content, fs::perms perms) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) {
      return mock_failure(TdxMockErrc::ExportFailed, temporary, "cannot write");
    }
  }
  std::error_code ec;
  fs::permissions(temporary, perms, ec);
  fs::rename(temporary, path, ec);
  if (ec) {
    return mock_failure(TdxMockErrc::ExportFailed, path, ec.message());
  }
  return {};
}

/// Applies the optional `snp-mock.json` of a mock TEE directory: {"include_vcek": bool}
/// (default true). Unknown members are rejected so that a typo does not go unnoticed.
Outcome<void> apply_snp_settings(const fs::path& directory, MockSnpConfig& config) {
  const fs::path settings = directory / "snp-mock.json";
  std::error_code ec;
  if (!fs::exists(settings, ec)) {
    return {};
  }
  std::ifstream in(settings, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return mock_failure(TdxMockErrc::InvalidOptions, settings, "not a JSON object");
  }
  for (const auto& [key, value] : json.items()) {
    if (key == "include_vcek" && value.is_boolean()) {
      config.include_leaf = value.get<bool>();
    } else {
      return mock_failure(TdxMockErrc::InvalidOptions, settings,
                          "unknown member or wrong type: " + key);
    }
  }
  return {};
}

/// A mock SNP attester. Evidence without its VCEK (snp-mock.json "include_vcek": false) must be
/// verified with a VCEK from elsewhere — a KDS certificate cache: the leaf is then kept in
/// snp-vcek.{key,crt} (issued on first use), so that every process of the directory signs with
/// the same VCEK and a fake KDS can serve it, as AMD's KDS serves a real chip's.
Outcome<AttesterPtr> make_snp_attester(const fs::path& directory, AttestationType type) {
  auto pki = MockSnpPki::load(directory);
  if (!pki) {
    return pki.error();
  }
  MockSnpConfig config;
  config.type = type;
  if (auto applied = apply_snp_settings(directory, config); !applied) {
    return applied.error();
  }
  auto attester = MockSnpAttester::create(*pki, config);
  if (!attester) {
    return attester.error();
  }
  if (config.include_leaf) {
    return AttesterPtr(std::move(*attester));
  }
  const fs::path key_path = directory / "snp-vcek.key";
  const fs::path certificate_path = directory / "snp-vcek.crt";
  std::error_code ec;
  if (fs::exists(key_path, ec) && fs::exists(certificate_path, ec)) {
    auto key = tls::load_private_key(key_path);
    if (!key) {
      return key.error();
    }
    auto certificates = tls::load_certificates(certificate_path);
    if (!certificates) {
      return certificates.error();
    }
    MockSnpLeaf leaf{std::move(*key), snp::certificate_der(certificates->front().get())};
    return AttesterPtr(
        std::make_shared<MockSnpAttester>(*pki, (*attester)->config(), std::move(leaf)));
  }
  const auto& leaf = (*attester)->leaf();
  if (auto written = write_atomically(key_path, tls::private_key_to_pem(leaf.key.get()),
                                      fs::perms::owner_read | fs::perms::owner_write);
      !written) {
    return written.error();
  }
  auto certificate = snp::parse_certificate_der(leaf.der);
  if (!certificate) {
    return Failure{certificate.error(), "mock VCEK"};
  }
  if (auto written = write_atomically(certificate_path, tls::to_pem(certificate->get()),
                                      fs::perms::owner_read | fs::perms::owner_write |
                                          fs::perms::group_read | fs::perms::others_read);
      !written) {
    return written.error();
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
    return make_snp_attester(directory, type);
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
