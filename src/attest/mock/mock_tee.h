#pragma once
// The INSECURE mock TEE used by tests, CI and the demo on machines without TEE hardware.
//
// `atls-proxy mock-tee init DIR` generates the mock PKIs (keys included) into DIR. A process
// started with `--insecure-mock-tee DIR` mints evidence under them (structurally real, properly
// signed), and one started with `--insecure-trust-mock-tee DIR` verifies it with the real
// verification code — trusting ONLY the mock roots in DIR, never the production ones. Both
// options log a loud warning; production configurations never set them.

#include <filesystem>
#include <vector>

#include "attest/attester.h"
#include "attest/verifier.h"
#include "core/error.h"

namespace atls::attest::mock {

/// Creates `directory` with fresh mock PKIs: SEV-SNP (snp-*.{key,crt}) and Intel TDX (tdx-*:
/// keys, certificates, collateral valid for a year, tdx-pki.json; MockTdxPki::save).
Outcome<void> init_mock_tee(const std::filesystem::path& directory);

/// An attester minting mock evidence of `type` with the PKI in `directory`: sev-snp, gcp-snp,
/// or a raw TDX quote for dcap-tdx, gcp-tdx, qemu-tdx. TDX measurements come from the optional
/// `tdx-measurements.json` ({"mrtd": hex, "rtmr0".."rtmr3": hex}, 48 bytes each, all optional,
/// zero when absent), read when the attester is created — a test may rewrite it between runs.
/// SNP: the optional `snp-mock.json` ({"include_vcek": false}) leaves the VCEK out of the
/// evidence (a verifier then needs a KDS certificate cache); the VCEK is then kept in
/// snp-vcek.{key,crt}, issued on first use, so that a fake KDS can serve it.
Outcome<AttesterPtr> make_mock_attester(const std::filesystem::path& directory,
                                        AttestationType type);

/// Verifiers that trust only the mock roots in `directory` (one per TEE family present; TDX:
/// a real TdxVerifier over the directory's mock collateral).
Outcome<std::vector<VerifierPtr>> make_mock_verifiers(const std::filesystem::path& directory);

}  // namespace atls::attest::mock
