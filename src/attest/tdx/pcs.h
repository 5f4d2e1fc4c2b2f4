#pragma once
// Intel PCS v4 / PCCS API shapes (docs/verification.md §1.5, interop spec §5.2 step 2) and the
// validity window of a collateral bundle. Pure: URLs are built and documents dated here; the
// requests themselves are made by the collateral service (attest/collateral/tdx_pcs.h), which
// keeps this module free of I/O.

#include <openssl/x509.h>

#include <optional>
#include <string>
#include <string_view>

#include "attest/tdx/collateral.h"
#include "attest/tdx/pck_extension.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::tdx {

/// Intel PCS (the default base URL) and the root CA CRL it publishes through the CRL
/// distribution point of the Intel SGX Root CA.
inline constexpr std::string_view kIntelPcsBaseUrl = "https://api.trustedservices.intel.com";
inline constexpr std::string_view kIntelRootCaCrlUrl =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/// Response headers carrying the URL-encoded PEM issuer chains (verification.md §1.5). TCB info
/// uses TCB-Info-Issuer-Chain in API v4 and SGX-TCB-Info-Issuer-Chain in v3 (PCCS may still
/// send the latter): accept both, in this order.
inline constexpr std::string_view kPckCrlIssuerChainHeader = "SGX-PCK-CRL-Issuer-Chain";
inline constexpr std::string_view kTcbInfoIssuerChainHeader = "TCB-Info-Issuer-Chain";
inline constexpr std::string_view kTcbInfoIssuerChainHeaderV3 = "SGX-TCB-Info-Issuer-Chain";
inline constexpr std::string_view kQeIdentityIssuerChainHeader =
    "SGX-Enclave-Identity-Issuer-Chain";

/// The base URL as interop §5.2 step 2 normalises `--pccs-url`: surrounding whitespace and
/// trailing '/' removed, then a trailing "/sgx/certification/v4" or "/tdx/certification/v4"
/// (and the '/' before it). Empty input gives Intel PCS.
std::string normalize_pcs_base_url(std::string_view url);

/// Whether `base` (normalised) is Intel PCS itself, whose root CA CRL lives on
/// certificates.trustedservices.intel.com rather than under /rootcacrl.
bool is_intel_pcs(std::string_view base);

/// The requests for one (FMSPC, PCK CA) bundle.
struct PcsUrls {
  std::string tcb_info;     ///< {base}/tdx/certification/v4/tcb?fmspc=<12 upper-case hex>
  std::string qe_identity;  ///< {base}/tdx/certification/v4/qe/identity?update=standard
  std::string pck_crl;  ///< {base}/sgx/certification/v4/pckcrl?ca=<platform|processor>&encoding=der
  /// {base}/sgx/certification/v4/rootcacrl (hex-encoded DER) for a PCCS; nullopt for Intel PCS,
  /// where the root's CRL distribution point is used.
  std::optional<std::string> root_ca_crl;
};

PcsUrls pcs_urls(std::string_view base, const Fmspc& fmspc, PckCaType ca);

/// The first URI of a certificate's CRL distribution points extension (nullopt when absent).
std::optional<std::string> crl_distribution_point(X509* cert);

/// 12 hex digits (either case). nullopt otherwise.
std::optional<Fmspc> parse_fmspc(std::string_view hex);
/// "platform" or "processor" (lower case, as PCS spells them). nullopt otherwise.
std::optional<PckCaType> parse_pck_ca_type(std::string_view text);

/// The dates of a bundle, for caching and for operators.
struct CollateralDates {
  SystemTime tcb_info_issue_date;
  SystemTime tcb_info_next_update;
  std::uint32_t tcb_evaluation_data_number = 0;
  SystemTime qe_identity_issue_date;
  SystemTime qe_identity_next_update;
  std::uint32_t qe_tcb_evaluation_data_number = 0;
  SystemTime pck_crl_this_update;
  SystemTime pck_crl_next_update;
  SystemTime root_ca_crl_this_update;
  SystemTime root_ca_crl_next_update;
  /// Earliest notAfter of the certificates of the three issuer chains.
  SystemTime certificates_not_after;
  /// When the bundle stops verifying: the earliest of every nextUpdate and notAfter above
  /// (interop §5.2 "effective validity window"; quote-side PCK certificates excluded).
  SystemTime expires_at;
};

/// tdx.crl_malformed when a CRL lacks thisUpdate/nextUpdate, tdx.collateral_chain_malformed
/// when a certificate's validity cannot be read.
Outcome<CollateralDates> collateral_dates(const Collateral& collateral);

}  // namespace atls::attest::tdx
