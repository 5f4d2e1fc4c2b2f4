#pragma once
// DCAP collateral for one (FMSPC, PCK CA) pair: PCK CRL + issuer chain, root CA CRL, TCB info +
// signature + issuer chain, QE identity + signature + issuer chain (docs/verification.md §1.3
// inputs, §1.5 sources; interop spec §5.2 step 2).
//
// Three input forms are accepted:
//  * dcap-qvl `QuoteCollateralV3` JSON (keys in testdata/VECTORS.md "Conventions"),
//  * the same mapping as flashbots YAML (testdata/flashbots/CATALOG.md "Collateral files"),
//  * raw Intel PCS/PCCS response bodies plus their issuer-chain headers.
// In every form the signed TCB info / QE identity bytes are the EXACT text of the inner object
// as served (never re-serialised JSON): PCS signs those bytes.
//
// `Collateral` is the parsed, immutable form. Parsing checks structure only; signatures, chains
// and freshness are checked by QuoteVerifier against the trusted roots and `now`.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/tdx/pck_extension.h"
#include "attest/tdx/tcb_info.h"
#include "attest/tdx/x509_util.h"
#include "core/bytes.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::tdx {

/// The raw collateral documents (dcap-qvl QuoteCollateralV3 field names).
struct CollateralDocuments {
  std::string pck_crl_issuer_chain;   ///< PEM: PCK Platform/Processor CA, root
  Bytes root_ca_crl;                  ///< DER
  Bytes pck_crl;                      ///< DER
  std::string tcb_info_issuer_chain;  ///< PEM: TCB signing, root
  std::string tcb_info;               ///< exact signed text of the tcbInfo object
  Bytes tcb_info_signature;           ///< raw r||s (64 bytes)
  std::string qe_identity_issuer_chain;
  std::string qe_identity;  ///< exact signed text of the enclaveIdentity object
  Bytes qe_identity_signature;
  /// PEM PCK chain for quotes without certification data type 5 (dcap-qvl's optional field).
  /// Parsed and kept, but this verifier takes the chain from the quote (type 5 is required).
  std::optional<std::string> pck_certificate_chain;
};

/// dcap-qvl JSON object form. tdx.collateral_malformed (missing/mistyped key, bad hex) or
/// tdx.crl_malformed.
Outcome<CollateralDocuments> collateral_from_json(std::string_view text);

/// flashbots YAML mapping form (same keys). tdx.collateral_malformed or tdx.crl_malformed.
Outcome<CollateralDocuments> collateral_from_yaml(std::string_view text);

/// Serialises to the dcap-qvl JSON form (CRLs and signatures as lowercase hex).
std::string collateral_to_json(const CollateralDocuments& documents);

/// A signed PCS JSON document: the exact bytes of the inner object and the signature.
struct SignedJson {
  std::string text;
  Bytes signature;  ///< raw r||s
};

/// Splits a PCS response body `{"<key>":{...},"signature":"<hex>"}` into the exact text of the
/// value of `key` and the signature. The body must be valid JSON without duplicate keys.
/// tdx.collateral_malformed otherwise.
Outcome<SignedJson> split_signed_json(std::string_view body, std::string_view key);

/// Decodes an issuer-chain HTTP header value (URL-encoded PEM, verification.md §1.5). Text that
/// is already PEM is returned unchanged. tdx.collateral_chain_malformed on bad escapes.
Outcome<std::string> decode_issuer_chain_header(std::string_view value);

/// Raw Intel PCS / PCCS responses for one FMSPC and PCK CA (verification.md §1.5).
struct PcsResponses {
  std::string tcb_info_body;             ///< {"tcbInfo":{...},"signature":"..."}
  std::string tcb_info_issuer_chain;     ///< header TCB-Info-Issuer-Chain (PEM or URL-encoded)
  std::string qe_identity_body;          ///< {"enclaveIdentity":{...},"signature":"..."}
  std::string qe_identity_issuer_chain;  ///< header SGX-Enclave-Identity-Issuer-Chain
  Bytes pck_crl;                         ///< body of /pckcrl (DER, PEM or hex)
  std::string pck_crl_issuer_chain;      ///< header SGX-PCK-CRL-Issuer-Chain
  Bytes root_ca_crl;                     ///< DER, PEM or hex (PCCS serves hex)
};

Outcome<CollateralDocuments> collateral_from_pcs(const PcsResponses& responses);

/// Parsed collateral. Immutable and shareable across threads.
class Collateral final {
 public:
  /// Parses every document: PEM chains (tdx.collateral_chain_malformed), CRLs
  /// (tdx.crl_malformed), TCB info (tdx.tcb_info_malformed), QE identity
  /// (tdx.qe_identity_malformed), signature sizes (tdx.collateral_malformed).
  static Outcome<std::shared_ptr<const Collateral>> parse(CollateralDocuments documents);

  const CollateralDocuments& documents() const noexcept { return documents_; }
  const TcbInfo& tcb_info() const noexcept { return tcb_info_; }
  const QeIdentity& qe_identity() const noexcept { return qe_identity_; }
  const std::vector<tls::X509Ptr>& pck_crl_issuer_chain() const noexcept { return pck_crl_chain_; }
  const std::vector<tls::X509Ptr>& tcb_info_issuer_chain() const noexcept { return tcb_chain_; }
  const std::vector<tls::X509Ptr>& qe_identity_issuer_chain() const noexcept { return qe_chain_; }
  X509_CRL* root_ca_crl() const noexcept { return root_crl_.get(); }
  X509_CRL* pck_crl() const noexcept { return pck_crl_.get(); }
  /// CA type of the PCK CRL issuer (from its CN), nullopt when the CN names neither CA.
  std::optional<PckCaType> pck_ca_type() const noexcept { return ca_type_; }
  /// SHA-256 over every document (length-prefixed); identifies this collateral in caches.
  const Sha256& digest() const noexcept { return digest_; }

 private:
  Collateral() = default;

  CollateralDocuments documents_;
  TcbInfo tcb_info_;
  QeIdentity qe_identity_;
  std::vector<tls::X509Ptr> pck_crl_chain_;
  std::vector<tls::X509Ptr> tcb_chain_;
  std::vector<tls::X509Ptr> qe_chain_;
  X509CrlPtr root_crl_;
  X509CrlPtr pck_crl_;
  std::optional<PckCaType> ca_type_;
  Sha256 digest_{};
};

using CollateralPtr = std::shared_ptr<const Collateral>;

}  // namespace atls::attest::tdx
