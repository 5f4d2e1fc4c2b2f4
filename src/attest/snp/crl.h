#pragma once
// AMD certificate revocation lists (KDS `/{vcek|vlek}/v1/{product}/crl`, DER, signed by the
// product's ARK with RSASSA-PSS; docs/verification.md §2.3 step 4 and §2.4). One parser and one
// signature check shared by the verifier (which applies CRLs) and the KDS fetcher (which vets a
// fetched CRL before it replaces the cached one), so both accept exactly the same CRLs. Pure
// computation, no I/O.

#include <cstdint>
#include <memory>
#include <string>

#include "attest/snp/report.h"
#include "attest/snp/snp_claims.h"
#include "attest/snp/trust_anchors.h"
#include "core/bytes.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::snp {

using X509CrlPtr = std::unique_ptr<X509_CRL, tls::OsslDeleter<X509_CRL_free>>;

/// A parsed AMD CRL. Never modified after parsing; shared by every verification that applies it
/// (OpenSSL 3's CRL lookups are thread-safe: it sorts the revoked list under the CRL's lock).
struct AmdCrl {
  std::shared_ptr<X509_CRL> crl;
  std::int64_t this_update = 0;  ///< seconds since the epoch
  std::int64_t next_update = 0;  ///< seconds since the epoch
};

/// "vcek" / "vlek": the KDS path segment and cache-name part of a CRL family.
std::string crl_family(Signer kind);

/// Parses exactly one DER CRL that carries thisUpdate and nextUpdate (AMD's always do; without
/// nextUpdate its freshness is unknowable). Never reads outside `der`.
/// Errors: crl_malformed, with the reason in the detail.
Outcome<AmdCrl> parse_amd_crl(ByteView der);

/// Whether `crl` names `ark` as its issuer and carries a valid signature by `ark`'s key
/// (RFC 5280 §6.3.3 (f)–(g); the RSASSA-PSS parameters come from the CRL and OpenSSL 3 verifies
/// them natively).
bool crl_signed_by(const AmdCrl& crl, X509* ark);

/// parse_amd_crl, then the signature of `product`'s ARK in `anchors` (the pinned AMD anchors,
/// or the insecure test anchors of a mock verifier). Errors: crl_malformed,
/// crl_signature_invalid ("not signed by the Milan ARK").
Outcome<AmdCrl> parse_amd_crl_of(ByteView der, const TrustAnchors& anchors, Product product);

/// Whether `crl` lists the certificate serial number `serial`.
bool crl_lists(const AmdCrl& crl, const ASN1_INTEGER* serial);

}  // namespace atls::attest::snp
