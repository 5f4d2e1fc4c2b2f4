#pragma once
// Trust anchors for DCAP verification. The production anchor is the Intel SGX Root CA, embedded
// in the binary and checked against its pinned SHA-256 fingerprints (docs/verification.md §1.3
// step 3). Roots carried by a quote or by collateral are never trusted: chains must end in a
// certificate that is byte-identical to an anchor.

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::tdx {

/// SHA-256 of the production Intel SGX Root CA certificate (DER).
inline constexpr const char* kIntelRootCertSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";
/// SHA-256 of its SubjectPublicKeyInfo (DER).
inline constexpr const char* kIntelRootSpkiSha256 =
    "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e";

class TrustAnchors final {
 public:
  struct Anchor {
    tls::X509Ptr cert;
    Bytes der;
    bool production = false;
  };

  /// The pinned production Intel SGX Root CA only. Fails with tdx.root_pin_mismatch if the
  /// embedded certificate does not match its pinned fingerprints (a corrupted build); the result
  /// is computed once and shared.
  /// @par Thread Safety
  /// Safe to call concurrently.
  static Outcome<std::shared_ptr<const TrustAnchors>> intel_production();

  /// INSECURE — FOR MOCK TEES AND TESTS ONLY. Trusts exactly the given DER roots and NOT the
  /// production root, so quotes signed under a test PKI verify and real quotes do not. Production
  /// code never calls this. tdx.root_not_trusted when a root does not parse.
  static Outcome<std::shared_ptr<const TrustAnchors>> insecure_test_roots_for_testing(
      const std::vector<Bytes>& der_roots);

  const std::vector<Anchor>& anchors() const noexcept { return anchors_; }

  /// The anchor byte-identical to `cert`, or nullptr.
  const Anchor* find(X509* cert) const;

  /// True when any anchor is a test root.
  bool insecure() const noexcept { return insecure_; }

 private:
  TrustAnchors() = default;
  static Outcome<std::shared_ptr<const TrustAnchors>> load_production();

  std::vector<Anchor> anchors_;
  bool insecure_ = false;
};

using TrustAnchorsPtr = std::shared_ptr<const TrustAnchors>;

/// PEM text of the embedded Intel SGX Root CA (for display and export).
std::string_view intel_root_ca_pem() noexcept;

}  // namespace atls::attest::tdx
