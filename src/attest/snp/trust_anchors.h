#pragma once
// Trust anchors for SEV-SNP certificate chains (docs/verification.md §2.2–2.3 step 4).
//
// Production verification trusts only AMD's ARKs, ASKs and ASVKs compiled into the binary
// (amd_roots.cpp), each checked against its pinned SHA-256 fingerprint when first loaded. An ARK
// carried in evidence is never trusted; it must be byte-identical to the pinned one. A test root
// is trusted only through `TrustAnchors::insecure_for_testing`, reached from
// SnpVerifierOptions::trust_insecure_test_anchors_for_testing, which production never sets.

#include <array>
#include <memory>
#include <span>
#include <string_view>

#include "attest/snp/report.h"
#include "core/bytes.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::snp {

/// The anchors for one product. `ask`/`asvk` may be null for test anchors.
struct ProductAnchors {
  tls::X509Ptr ark;
  Bytes ark_der;
  tls::X509Ptr ask;  ///< signs VCEKs
  Bytes ask_der;
  tls::X509Ptr asvk;  ///< signs VLEKs
  Bytes asvk_der;
};

class TrustAnchors final {
 public:
  /// AMD's anchors for Milan, Genoa and Turin. Loaded, fingerprint-checked and
  /// signature-checked (ARK self-signature, ASK and ASVK by ARK) once per process.
  /// @return trust_anchor_invalid if the embedded data does not match its fingerprints.
  /// @par Thread Safety
  /// Safe to call concurrently.
  static Result<std::shared_ptr<const TrustAnchors>> pinned();

  /// INSECURE, tests and mock mode only: trusts `ark_der` (self-signed) for every product, with
  /// optional ASK/ASVK (empty = none; they must be signed by the ARK).
  /// @return trust_anchor_invalid with a detail when a certificate does not parse or verify.
  static Outcome<std::shared_ptr<const TrustAnchors>> insecure_for_testing(ByteView ark_der,
                                                                           ByteView ask_der,
                                                                           ByteView asvk_der);

  const ProductAnchors& for_product(Product product) const noexcept;
  bool insecure() const noexcept { return insecure_; }

 private:
  std::array<std::shared_ptr<const ProductAnchors>, 3> products_;
  bool insecure_ = false;
};

/// A pinned fingerprint, as listed in docs/verification.md §2.2.
struct PinnedFingerprint {
  Product product;
  std::string_view role;        ///< "ARK", "ASK", "ASVK"
  std::string_view sha256_hex;  ///< SHA-256 of the DER certificate
};
std::span<const PinnedFingerprint> pinned_fingerprints() noexcept;

/// Whether `cert` carries a valid signature by `issuer`'s key and names `issuer` as its issuer
/// (RSASSA-PSS parameters come from the certificate; OpenSSL 3 verifies them natively).
bool issued_by(X509* cert, X509* issuer);

}  // namespace atls::attest::snp
