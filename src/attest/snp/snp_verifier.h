#pragma once
// SEV-SNP evidence verification (docs/verification.md §2.3; check order and error names in
// src/attest/snp/README.md). No I/O: certificates come from the evidence or from an injected
// CertificateSource, trust anchors are compiled in, and time is a parameter.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "attest/snp/cert_table.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_claims.h"
#include "attest/verifier.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

/// What the verifier needs when the evidence carries no VCEK: the KDS coordinates of the VCEK
/// (AMD KDS spec; verification.md §2.4 — `/vcek/v1/{product}/{hwid}?blSPL=..`).
struct VcekQuery {
  Product product = Product::Milan;
  /// The report's CHIP_ID (Turin: only bytes 0..7 are meaningful; the KDS hwid is 8 bytes).
  std::array<std::uint8_t, 64> chip_id{};
  /// REPORTED_TCB decoded for `product` (raw value included).
  TcbVersion reported_tcb;
};

/// Source of cached VCEK certificates, used only when the evidence has none. A later KDS
/// service implements it by serving a cache that a background task fills from AMD KDS.
class CertificateSource {
 public:
  virtual ~CertificateSource() = default;

  /// Looks up the VCEK for `query`.
  ///
  /// Must not do I/O or block: it is called on the verification path.
  /// @return the DER certificate, or snp::Errc::CertificateMissing when none is cached (the
  /// verifier may then try another product for version-2 reports). Any other error is returned
  /// to the caller unchanged.
  /// @par Thread Safety
  /// Must allow concurrent calls.
  virtual Result<Bytes> find_vcek(const VcekQuery& query) const = 0;
};

using CertificateSourcePtr = std::shared_ptr<const CertificateSource>;

/// One AMD CRL as a CrlSource holds it: the KDS resource it came from and its DER.
struct SourcedCrl {
  Product product = Product::Milan;
  /// The family: the VCEK CRL (`/vcek/v1/{product}/crl`) lists revoked ASKs, the VLEK CRL
  /// (`/vlek/v1/{product}/crl`) revoked ASVKs.
  Signer kind = Signer::Vcek;
  Bytes der;
};

/// A consistent view of a CrlSource: these CRLs are exactly those of `generation`.
struct CrlSnapshot {
  std::uint64_t generation = 0;
  std::vector<SourcedCrl> crls;
};

/// AMD CRLs that change at run time: the KDS certificate cache, whose CRLs the KDS fetcher
/// refreshes in the background (SnpVerifierOptions::crl_source). The verifier re-reads them only
/// when the generation changes, so neither call may do I/O.
class CrlSource {
 public:
  virtual ~CrlSource() = default;

  /// A number that changes whenever a CRL is added or replaced. Called on every verification of
  /// a revocation-checked chain: must be cheap (an atomic load) and must not block.
  /// @par Thread Safety
  /// Must allow concurrent calls.
  virtual std::uint64_t crl_generation() const noexcept = 0;

  /// The current CRLs with their generation, read consistently. No I/O.
  /// @par Thread Safety
  /// Must allow concurrent calls.
  virtual CrlSnapshot crl_snapshot() const = 0;
};

/// A CertificateSource backed by a map; for tests, tools and as a building block of caches.
class InMemoryCertificateSource final : public CertificateSource {
 public:
  /// Stores `der` under (product, chip_id, reported_tcb.raw). Thread-safe.
  void add(const VcekQuery& query, Bytes der);
  Result<Bytes> find_vcek(const VcekQuery& query) const override;

 private:
  struct Entry {
    Product product;
    std::array<std::uint8_t, 64> chip_id;
    std::uint64_t tcb;
    Bytes der;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

/// INSECURE test trust anchors (DER). Used only by tests and the mock TEE.
struct InsecureTestAnchors {
  Bytes ark_der;   ///< self-signed test root; the ONLY root trusted when this option is set
  Bytes ask_der;   ///< optional test ASK (empty: the evidence must carry it)
  Bytes asvk_der;  ///< optional test ASVK
};

struct SnpVerifierOptions {
  /// INSECURE — never set in production. When present, AMD's pinned anchors are NOT trusted and
  /// only these test anchors are, for every product (the mock SNP PKI, attest/mock/snp_mock.h).
  std::optional<InsecureTestAnchors> trust_insecure_test_anchors_for_testing;
  /// AMD CRLs (DER, from KDS `/vcek/v1/{product}/crl` or `/vlek/v1/{product}/crl`). Each must be
  /// signed by a trusted ARK; the ASK/ASVK of every verified chain is checked against the CRLs
  /// of its ARK, and those CRLs must be current at `now`. A CRL that does not parse or verify
  /// makes every verification fail (crl_malformed / crl_signature_invalid): fail closed.
  std::vector<Bytes> crls;
  /// Required revocation checking with CRLs that change at run time (the proxy's --kds-crls).
  /// For every product in `crl_products`, a chain of that product is checked against the CRL of
  /// its family (VCEK chain: the VCEK CRL, whose entries are ASKs; VLEK chain: the VLEK CRL and
  /// ASVKs) from `crl_source`: a CRL there that does not parse or is not signed by that
  /// product's ARK is unusable, and without a usable one the chain fails with crl_missing (fail
  /// closed; a null source means none is usable); otherwise it must be current at `now`
  /// (crl_expired) and must not list the ASK/ASVK (certificate_revoked). Chains of other
  /// products are not checked against the source (revocation checking is optional per
  /// product). The source is re-read when its generation changes — parsed and signature-checked
  /// once per generation, never per verification — so refreshed CRLs apply without a new
  /// verifier. Independent of `crls`, which applies as well.
  std::shared_ptr<const CrlSource> crl_source;
  std::vector<Product> crl_products;
  /// Verified chains (ARK→ASK/ASVK→VCEK/VLEK signatures, extensions, key) cached by the hashes
  /// of the certificates involved. Per-report checks (validity at `now`, CRL freshness, chip id,
  /// TCB, report signature, REPORT_DATA) are never skipped. 0 disables the cache.
  std::size_t chain_cache_capacity = 256;
};

/// A verified bare report (verify_report).
struct VerifiedSnpReport {
  SnpClaims claims;
  ReportData report_data{};  ///< the report's REPORT_DATA
};

class SnpVerifier final : public Verifier {
 public:
  /// @param source consulted only when evidence lacks a VCEK; may be null (then such evidence
  /// fails with certificate_missing).
  explicit SnpVerifier(CertificateSourcePtr source = nullptr, SnpVerifierOptions options = {});
  ~SnpVerifier() override;
  SnpVerifier(const SnpVerifier&) = delete;
  SnpVerifier& operator=(const SnpVerifier&) = delete;

  std::string_view name() const noexcept override { return "sev-snp"; }
  bool handles(AttestationType type) const noexcept override;

  /// Decodes `evidence` (docs/protocol.md §7) and verifies it; see verify_evidence for the details.
  Result<VerifiedClaims> verify(AttestationType type, ByteView evidence,
                                const ReportData& expected_report_data,
                                SystemTime now) const override;

  /// Like verify(), with a human-readable detail on failure (which certificate expired, which
  /// extension is missing...). Fills VerifiedClaims::type, report_data and snp; measurements
  /// and tcb_status stay empty (SNP has no numbered registers and no TCB-info collateral).
  /// @par Thread Safety
  /// Safe to call concurrently.
  Outcome<VerifiedClaims> verify_evidence(AttestationType type, ByteView evidence,
                                          const ReportData& expected_report_data,
                                          SystemTime now) const;

  /// Verifies a bare 1184-byte report with certificates from elsewhere (an extended-report
  /// table, Azure THIM, KDS). With `expected_report_data` nullopt the REPORT_DATA comparison is
  /// skipped: the caller MUST then check the binding itself (Azure binds a hash of its runtime
  /// data into REPORT_DATA[0:32]).
  Outcome<VerifiedSnpReport> verify_report(ByteView report, const CertTable& certificates,
                                           const std::optional<ReportData>& expected_report_data,
                                           SystemTime now) const;

  /// True when this verifier trusts test anchors instead of AMD's.
  bool insecure_for_testing() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atls::attest::snp
