#include "attest/snp/snp_verifier.h"

#include <fmt/format.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/crl.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/little_endian.h"
#include "attest/snp/trust_anchors.h"
#include "core/digest.h"
#include "tls/ecdsa.h"

namespace atls::attest::snp {
namespace {

using tls::OsslDeleter;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

// SHA-384 fetched once (OpenSSL 3.0 implicit fetches take a global lock; style.md §7).
const EVP_MD* sha384_md() {
  static EVP_MD* const kMd = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return kMd;
}

std::string_view leaf_name(Signer signer) {
  return signer == Signer::Vcek ? "VCEK" : "VLEK";
}

// One certificate's validity window, kept in the chain cache.
struct Window {
  std::string_view role;  // "ARK", "ASK", "ASVK", "VCEK", "VLEK"
  Validity validity;
};

// A CRL of SnpVerifierOptions::crls accepted at construction, signed by the ARK of `anchors`.
struct TrustedCrl {
  const ProductAnchors* anchors = nullptr;
  AmdCrl crl;
};

// The CRLs of SnpVerifierOptions::crl_source at one generation, parsed and signature-checked
// once: per (product, family) the usable CRL, or why there is none.
struct SourcedSlot {
  std::optional<AmdCrl> crl;
  std::string problem;  // when !crl
};

struct SourcedCrls {
  std::uint64_t generation = 0;
  std::array<SourcedSlot, 6> slots;  // slot_index(product, kind)
};

constexpr std::size_t slot_index(Product product, Signer kind) {
  return static_cast<std::size_t>(product) * 2 + (kind == Signer::Vcek ? 0 : 1);
}

// The product-independent result of verifying ARK → intermediate → leaf. Everything in it is a
// deterministic function of the certificates, so it can be cached by their hashes.
struct Chain {
  Product product = Product::Milan;         // from the leaf's productName
  const ProductAnchors* anchors = nullptr;  // the anchors the chain ends in
  Signer kind = Signer::Vcek;               // VCEK iff the leaf has an hwID
  tls::X509Ptr leaf;
  AmdExtensions extensions;
  std::vector<Window> windows;  // ARK, intermediate, leaf
  // Serial number of the intermediate (ASK/ASVK), looked up in the CRLs at every verification:
  // CRLs change at run time (SnpVerifierOptions::crl_source), chains stay cached.
  tls::Asn1IntegerPtr intermediate_serial;
};

using ChainPtr = std::shared_ptr<const Chain>;

bool chip_id_masked(const SnpClaims& claims) {
  return claims.mask_chip_key || detail::all_zero(claims.chip_id);
}

// Version-2 reports have no CPUID: KDS lookups have to guess the product. A CHIP_ID that uses
// only its first 8 bytes is a Turin hwID (verification.md §2.1).
std::vector<Product> candidate_products(const Report& report) {
  if (report.cpuid_product) {
    return {*report.cpuid_product};
  }
  const ByteView chip(report.claims.chip_id);
  if (detail::all_zero(chip.subspan(8)) && !detail::all_zero(chip.first(8))) {
    return {Product::Turin};
  }
  return {Product::Milan, Product::Genoa};
}

std::optional<Failure> check_crl_current(const AmdCrl& crl, std::string_view what,
                                         std::int64_t now) {
  if (now < crl.this_update || now > crl.next_update) {
    return fail(Errc::CrlExpired,
                fmt::format("{} CRL is valid {} to {}, not at {}", what,
                            format_unix_seconds(crl.this_update),
                            format_unix_seconds(crl.next_update), format_unix_seconds(now)));
  }
  return std::nullopt;
}

std::optional<Failure> check_validity(const Window& window, std::int64_t now) {
  if (now < window.validity.not_before) {
    return fail(
        Errc::CertificateNotYetValid,
        fmt::format("{} notBefore {} is after {}", window.role,
                    format_unix_seconds(window.validity.not_before), format_unix_seconds(now)));
  }
  if (now > window.validity.not_after) {
    return fail(
        Errc::CertificateExpired,
        fmt::format("{} notAfter {} is before {}", window.role,
                    format_unix_seconds(window.validity.not_after), format_unix_seconds(now)));
  }
  return std::nullopt;
}

// Report signature: ECDSA P-384 over SHA-384 of bytes [0, 0x2A0); R and S are 72-byte
// little-endian fields of which P-384 uses the low 48 bytes (SEV-SNP ABI spec, "Signature
// Format"; verification.md §2.1). OpenSSL wants a DER ECDSA-Sig-Value.
enum class SignatureCheck { Valid, Invalid, InternalError };

SignatureCheck check_report_signature(const Report& report, EVP_PKEY* key) {
  const auto high_r = ByteView(report.signature_r).subspan(kP384ComponentSize);
  const auto high_s = ByteView(report.signature_s).subspan(kP384ComponentSize);
  if (!detail::all_zero(high_r) || !detail::all_zero(high_s)) {
    return SignatureCheck::Invalid;  // a value ≥ 2^384 cannot be a P-384 scalar
  }
  // The DER encoder takes big-endian components.
  Bytes r(report.signature_r.begin(), report.signature_r.begin() + kP384ComponentSize);
  Bytes s(report.signature_s.begin(), report.signature_s.begin() + kP384ComponentSize);
  std::reverse(r.begin(), r.end());
  std::reverse(s.begin(), s.end());
  const Bytes der_signature = tls::ecdsa_der_from_components(r, s);
  if (der_signature.empty()) {
    return SignatureCheck::InternalError;
  }

  MdCtxPtr context(EVP_MD_CTX_new());
  if (!context || EVP_DigestVerifyInit(context.get(), nullptr, sha384_md(), nullptr, key) != 1) {
    ERR_clear_error();
    return SignatureCheck::InternalError;
  }
  const ByteView signed_bytes = report.signed_bytes();
  const int verified = EVP_DigestVerify(context.get(), der_signature.data(), der_signature.size(),
                                        signed_bytes.data(), signed_bytes.size());
  ERR_clear_error();
  return verified == 1 ? SignatureCheck::Valid : SignatureCheck::Invalid;
}

// AMD signs every certificate of the SEV-SNP PKI with RSASSA-PSS (SHA-384, MGF1-SHA-384, salt
// 48; verification.md §2.2, go-sev-guest validateKDSCertificateProductNonspecific). OpenSSL
// takes the parameters from the certificate, so require the algorithm itself here.
bool pss_signed(const X509* cert) {
  return X509_get_signature_nid(cert) == NID_rsassaPss;
}

bool is_p384_key(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    return false;
  }
  char group[32] = {};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) != 1) {
    ERR_clear_error();
    return false;
  }
  return std::string_view(group, length) == "secp384r1";
}

// verification.md §2.3 step 5: the VCEK/VLEK is issued for exactly the REPORTED_TCB (the KDS
// query parameters blSPL, teeSPL, snpSPL, ucodeSPL and, on Turin, fmcSPL).
std::optional<Failure> check_tcb(const AmdExtensions& ext, const TcbVersion& reported,
                                 Product product, Signer kind) {
  struct Component {
    std::string_view name;
    std::uint8_t certificate;
    std::uint8_t report;
  };
  std::vector<Component> components = {
      {"blSPL", *ext.bl_spl, reported.bootloader},
      {"teeSPL", *ext.tee_spl, reported.tee},
      {"snpSPL", *ext.snp_spl, reported.snp},
      {"ucodeSPL", *ext.ucode_spl, reported.microcode},
  };
  if (has_fmc(product)) {
    components.push_back({"fmcSPL", *ext.fmc_spl, reported.fmc.value_or(0)});
  }
  for (const auto& component : components) {
    if (component.certificate != component.report) {
      return fail(
          Errc::TcbMismatch,
          fmt::format("{} {} is {} but REPORTED_TCB ({:016x}) has {}", leaf_name(kind),
                      component.name, component.certificate, reported.raw, component.report));
    }
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// InMemoryCertificateSource

void InMemoryCertificateSource::add(const VcekQuery& query, Bytes der) {
  std::lock_guard lock(mutex_);
  entries_.push_back({query.product, query.chip_id, query.reported_tcb.raw, std::move(der)});
}

Result<Bytes> InMemoryCertificateSource::find_vcek(const VcekQuery& query) const {
  std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    if (entry.product == query.product && entry.chip_id == query.chip_id &&
        entry.tcb == query.reported_tcb.raw) {
      return entry.der;
    }
  }
  return make_error_code(Errc::CertificateMissing);
}

// ---------------------------------------------------------------------------------------------
// SnpVerifier

struct SnpVerifier::Impl {
  CertificateSourcePtr source;
  std::size_t cache_capacity = 0;
  // Anchors, or why they are unusable (every verification then fails closed).
  std::shared_ptr<const TrustAnchors> anchors;
  std::optional<Failure> anchor_failure;
  std::vector<TrustedCrl> crls;
  std::optional<Failure> crl_failure;
  // SnpVerifierOptions::crl_source / crl_products, and the source's CRLs as last parsed
  // (replaced, never modified, when the source's generation changes).
  std::shared_ptr<const CrlSource> crl_source;
  std::array<bool, 3> crl_required{};
  mutable std::mutex sourced_mutex;
  mutable std::shared_ptr<const SourcedCrls> sourced;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, ChainPtr> cache;
  mutable std::deque<std::string> cache_order;  // FIFO eviction

  void load_crls(const std::vector<Bytes>& ders);
  std::shared_ptr<const SourcedCrls> current_sourced_crls() const;
  std::shared_ptr<const SourcedCrls> parse_sourced_crls(const CrlSnapshot& snapshot) const;
  std::optional<Failure> check_revocation(const Chain& chain, std::int64_t now) const;
  Outcome<ChainPtr> chain_for(ByteView leaf_der, const Bytes* intermediate, const Bytes* ark,
                              Signer expected) const;
  Outcome<ChainPtr> build_chain(ByteView leaf_der, const Bytes* intermediate, const Bytes* ark,
                                Signer expected) const;
  Outcome<VerifiedSnpReport> verify(ByteView report_bytes, const CertTable& certificates,
                                    const std::optional<ReportData>& expected,
                                    SystemTime now) const;
};

void SnpVerifier::Impl::load_crls(const std::vector<Bytes>& ders) {
  if (!anchors) {
    return;
  }
  for (std::size_t i = 0; i < ders.size(); ++i) {
    auto crl = parse_amd_crl(ders[i]);
    if (!crl) {
      crl_failure = fail(Errc::CrlMalformed, fmt::format("CRL {}: {}", i + 1, crl.error().detail));
      return;
    }
    const ProductAnchors* issuer = nullptr;
    for (const Product product : {Product::Milan, Product::Genoa, Product::Turin}) {
      if (crl_signed_by(*crl, anchors->for_product(product).ark.get())) {
        issuer = &anchors->for_product(product);
        break;
      }
    }
    if (!issuer) {
      crl_failure = fail(Errc::CrlSignatureInvalid,
                         fmt::format("CRL {} is not signed by a trusted ARK", i + 1));
      return;
    }
    crls.push_back({issuer, std::move(*crl)});
  }
}

std::shared_ptr<const SourcedCrls> SnpVerifier::Impl::parse_sourced_crls(
    const CrlSnapshot& snapshot) const {
  auto parsed = std::make_shared<SourcedCrls>();
  parsed->generation = snapshot.generation;
  for (auto& slot : parsed->slots) {
    slot.problem = "no CRL has been fetched";
  }
  for (const auto& sourced_crl : snapshot.crls) {
    SourcedSlot& slot = parsed->slots[slot_index(sourced_crl.product, sourced_crl.kind)];
    // The source names the product; the signature of exactly that product's ARK is required.
    auto crl = parse_amd_crl_of(sourced_crl.der, *anchors, sourced_crl.product);
    if (crl) {
      slot.crl = std::move(*crl);
      slot.problem.clear();
    } else if (!slot.crl) {
      slot.problem = "the cached CRL is unusable: " + crl.error().describe();
    }
  }
  return parsed;
}

std::shared_ptr<const SourcedCrls> SnpVerifier::Impl::current_sourced_crls() const {
  const std::uint64_t generation = crl_source->crl_generation();
  {
    std::lock_guard lock(sourced_mutex);
    if (sourced && sourced->generation == generation) {
      return sourced;
    }
  }
  // Parsed outside the lock: verifications keep going with the previous set meanwhile. Two
  // threads may both parse a new generation; the newest set wins.
  auto parsed = parse_sourced_crls(crl_source->crl_snapshot());
  std::lock_guard lock(sourced_mutex);
  if (!sourced || parsed->generation >= sourced->generation) {
    sourced = parsed;
  }
  return parsed;
}

// The CRL checks of verification.md §2.3 step 4 that depend on `now` and on the CRLs in force:
// freshness of the ARK's CRLs, then revocation of the ASK/ASVK.
std::optional<Failure> SnpVerifier::Impl::check_revocation(const Chain& chain,
                                                           std::int64_t now) const {
  // SnpVerifierOptions::crls: every CRL of the chain's ARK.
  bool listed = false;
  for (const auto& trusted : crls) {
    if (trusted.anchors != chain.anchors) {
      continue;
    }
    if (auto failure = check_crl_current(trusted.crl, to_string(chain.product), now)) {
      return failure;
    }
    listed = listed || crl_lists(trusted.crl, chain.intermediate_serial.get());
  }
  // SnpVerifierOptions::crl_source: the CRL of the chain's (product, family), if required.
  if (crl_required[static_cast<std::size_t>(chain.product)]) {
    const std::string what = fmt::format("{} {}", to_string(chain.product), crl_family(chain.kind));
    if (!crl_source) {
      return fail(Errc::CrlMissing, fmt::format("no {} CRL: no CRL source is configured", what));
    }
    const auto current = current_sourced_crls();
    const SourcedSlot& slot = current->slots[slot_index(chain.product, chain.kind)];
    if (!slot.crl) {
      return fail(Errc::CrlMissing,
                  fmt::format("no usable {} CRL ({}; KDS /{}/v1/{}/crl)", what, slot.problem,
                              crl_family(chain.kind), to_string(chain.product)));
    }
    if (auto failure = check_crl_current(*slot.crl, what, now)) {
      return failure;
    }
    listed = listed || crl_lists(*slot.crl, chain.intermediate_serial.get());
  }
  if (listed) {
    return fail(Errc::CertificateRevoked,
                fmt::format("the {} {} is revoked by the AMD CRL", to_string(chain.product),
                            chain.kind == Signer::Vcek ? "ASK" : "ASVK"));
  }
  return std::nullopt;
}

Outcome<ChainPtr> SnpVerifier::Impl::build_chain(ByteView leaf_der, const Bytes* intermediate,
                                                 const Bytes* ark_from_evidence,
                                                 Signer expected) const {
  auto chain = std::make_shared<Chain>();
  auto leaf = parse_certificate_der(leaf_der);
  if (!leaf) {
    return fail(Errc::CertificateMalformed, "VCEK/VLEK is not a DER X.509 certificate");
  }
  chain->leaf = std::move(*leaf);
  auto extensions = parse_amd_extensions(chain->leaf.get());
  if (!extensions) {
    return Failure{extensions.error(), "in the VCEK/VLEK certificate"};
  }
  chain->extensions = std::move(*extensions);
  const AmdExtensions& ext = chain->extensions;
  chain->kind = ext.hw_id ? Signer::Vcek : Signer::Vlek;
  const std::string_view kind = leaf_name(chain->kind);
  // The report's signing-key field decides which chain applies (VCEK: ASK, VLEK: ASVK); a VCEK
  // is recognised by its hwID extension, which VLEKs lack.
  if (chain->kind != expected) {
    return fail(Errc::SignerMismatch, fmt::format("report is {}-signed but the certificate is a {}",
                                                  leaf_name(expected), kind));
  }

  // Product (KDS spec: productName "Milan-B0", VLEK "Milan").
  if (!ext.product_name) {
    return fail(Errc::CertificateExtensionMissing, fmt::format("{} has no productName", kind));
  }
  const auto product = parse_product_name(*ext.product_name);
  if (!product) {
    return fail(
        Errc::UnknownProduct,
        fmt::format("{} productName \"{}\" is not Milan, Genoa or Turin", kind, *ext.product_name));
  }
  chain->product = *product;
  const auto missing = [&](std::string_view what) {
    return fail(Errc::CertificateExtensionMissing, fmt::format("{} has no {}", kind, what));
  };
  if (!ext.bl_spl) {
    return missing("blSPL");
  }
  if (!ext.tee_spl) {
    return missing("teeSPL");
  }
  if (!ext.snp_spl) {
    return missing("snpSPL");
  }
  if (!ext.ucode_spl) {
    return missing("ucodeSPL");
  }
  if (has_fmc(*product) && !ext.fmc_spl) {
    return missing("fmcSPL");
  }
  if (!is_p384_key(X509_get0_pubkey(chain->leaf.get()))) {
    return fail(Errc::LeafKeyInvalid, fmt::format("{} key is not ECDSA P-384", kind));
  }

  // verification.md §2.3 step 4: the ARK is the pinned one, never the evidence's.
  const ProductAnchors& anchors_for = anchors->for_product(*product);
  chain->anchors = &anchors_for;
  if (ark_from_evidence != nullptr && *ark_from_evidence != anchors_for.ark_der) {
    return fail(Errc::ArkNotPinned,
                fmt::format("evidence ARK (SHA-256 {}) is not the {} ARK{}",
                            to_hex(sha256(*ark_from_evidence)), to_string(*product),
                            anchors->insecure() ? " (insecure test anchors)" : ""));
  }
  X509* ark = anchors_for.ark.get();

  // The intermediate: the evidence's if it is the leaf's issuer (this admits a re-issued ASK
  // that the ARK signed), otherwise the pinned ASK (VCEK) or ASVK (VLEK).
  const bool vcek = chain->kind == Signer::Vcek;
  const std::string_view intermediate_role = vcek ? "ASK" : "ASVK";
  const Errc intermediate_error = vcek ? Errc::AskSignatureInvalid : Errc::AsvkSignatureInvalid;
  tls::X509Ptr evidence_intermediate;
  X509* issuer = vcek ? anchors_for.ask.get() : anchors_for.asvk.get();
  if (intermediate != nullptr && *intermediate != anchors_for.ask_der &&
      *intermediate != anchors_for.asvk_der) {
    auto parsed = parse_certificate_der(*intermediate);
    if (!parsed) {
      return fail(Errc::CertificateMalformed,
                  fmt::format("evidence {} is not a DER X.509 certificate", intermediate_role));
    }
    if (X509_NAME_cmp(X509_get_issuer_name(chain->leaf.get()),
                      X509_get_subject_name(parsed->get())) == 0) {
      if (!pss_signed(parsed->get()) || !issued_by(parsed->get(), ark)) {
        return fail(intermediate_error, fmt::format("evidence {} is not signed by the {} ARK",
                                                    intermediate_role, to_string(*product)));
      }
      evidence_intermediate = std::move(*parsed);
      issuer = evidence_intermediate.get();
    }
  }
  if (issuer == nullptr) {
    return fail(Errc::CertificateMissing,
                fmt::format("no {} for the {} (the test anchors have none and the evidence "
                            "carries none)",
                            intermediate_role, kind));
  }
  if (!pss_signed(chain->leaf.get()) || !issued_by(chain->leaf.get(), issuer)) {
    return fail(
        vcek ? Errc::VcekSignatureInvalid : Errc::VlekSignatureInvalid,
        fmt::format("{} is not signed by the {} {}", kind, to_string(*product), intermediate_role));
  }

  // Validity windows (checked per verification) and revocation of the intermediate.
  const std::array<std::pair<std::string_view, X509*>, 3> chain_certs{
      {{"ARK", ark}, {intermediate_role, issuer}, {kind, chain->leaf.get()}}};
  for (const auto& [role, cert] : chain_certs) {
    auto validity = certificate_validity(cert);
    if (!validity) {
      return fail(Errc::CertificateMalformed, fmt::format("{} has unparsable validity", role));
    }
    chain->windows.push_back({role, *validity});
  }
  chain->intermediate_serial.reset(ASN1_INTEGER_dup(X509_get_serialNumber(issuer)));
  if (!chain->intermediate_serial) {
    return fail(Errc::InternalError, fmt::format("copying the {} serial", intermediate_role));
  }
  return ChainPtr(std::move(chain));
}

Outcome<ChainPtr> SnpVerifier::Impl::chain_for(ByteView leaf_der, const Bytes* intermediate,
                                               const Bytes* ark, Signer expected) const {
  if (cache_capacity == 0) {
    return build_chain(leaf_der, intermediate, ark, expected);
  }
  // Key: hashes of exactly the inputs build_chain depends on.
  std::string key;
  key.reserve(std::size_t{3} * 32);
  const auto append = [&key](ByteView data) {
    const auto digest = sha256(data);
    key.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  };
  append(leaf_der);
  append(intermediate != nullptr ? ByteView(*intermediate) : ByteView());
  key.push_back(intermediate != nullptr ? '\1' : '\0');
  append(ark != nullptr ? ByteView(*ark) : ByteView());
  key.push_back(ark != nullptr ? '\1' : '\0');
  key.push_back(expected == Signer::Vcek ? 'C' : 'L');
  {
    std::lock_guard lock(cache_mutex);
    if (const auto it = cache.find(key); it != cache.end()) {
      return it->second;
    }
  }
  auto built = build_chain(leaf_der, intermediate, ark, expected);
  if (!built) {
    return built;  // failures are not cached
  }
  std::lock_guard lock(cache_mutex);
  if (cache.emplace(key, *built).second) {
    cache_order.push_back(key);
    while (cache_order.size() > cache_capacity) {
      cache.erase(cache_order.front());
      cache_order.pop_front();
    }
  }
  return built;
}

Outcome<VerifiedSnpReport> SnpVerifier::Impl::verify(ByteView report_bytes,
                                                     const CertTable& certificates,
                                                     const std::optional<ReportData>& expected,
                                                     SystemTime now) const {
  if (anchor_failure) {
    return *anchor_failure;
  }
  if (crl_failure) {
    return *crl_failure;
  }
  // 1. The report structure (verification.md §2.3 step 1).
  auto parsed = parse_report(report_bytes);
  if (!parsed) {
    return Failure{parsed.error(), "in the attestation report"};
  }
  Report& report = *parsed;
  SnpClaims& claims = report.claims;

  // 2–3. The signing key (flags bits 2–4) selects the leaf certificate; the evidence's is
  // preferred, the certificate source is the fallback for VCEKs.
  const Bytes* evidence_vcek = certificates.find(guids::vcek());
  const Bytes* evidence_vlek = certificates.find(guids::vlek());
  const Bytes* intermediate = certificates.find(guids::ask());
  const Bytes* ark = certificates.find(guids::ark());
  Bytes leaf_der;
  if (claims.signer == Signer::Vcek) {
    if (evidence_vcek != nullptr) {
      leaf_der = *evidence_vcek;
    } else if (evidence_vlek != nullptr) {
      return fail(Errc::SignerMismatch,
                  "report is VCEK-signed but the evidence carries only a VLEK");
    } else {
      if (chip_id_masked(claims)) {
        return fail(Errc::ChipIdMasked,
                    "the evidence has no VCEK and the masked CHIP_ID cannot locate one");
      }
      if (!source) {
        return fail(Errc::CertificateMissing,
                    "the evidence has no VCEK and no certificate source is configured");
      }
      std::optional<Failure> last;
      for (const Product product : candidate_products(report)) {
        VcekQuery query;
        query.product = product;
        query.chip_id = claims.chip_id;
        query.reported_tcb = decode_tcb(claims.reported_tcb.raw, product);
        auto found = source->find_vcek(query);
        if (found) {
          leaf_der = std::move(*found);
          last.reset();
          break;
        }
        last = Failure{
            found.error(),
            fmt::format("no cached {} VCEK for CHIP_ID {}… at TCB {:016x}", to_string(product),
                        to_hex(ByteView(claims.chip_id).first(8)), claims.reported_tcb.raw)};
        if (found.error() != make_error_code(Errc::CertificateMissing)) {
          break;
        }
      }
      if (last) {
        return *last;
      }
    }
  } else {
    if (evidence_vlek != nullptr) {
      leaf_der = *evidence_vlek;
    } else if (evidence_vcek != nullptr) {
      return fail(Errc::SignerMismatch,
                  "report is VLEK-signed but the evidence carries only a VCEK");
    } else {
      return fail(Errc::CertificateMissing,
                  "report is VLEK-signed and the evidence has no VLEK (KDS does not serve "
                  "VLEKs)");
    }
  }

  // 4. ARK → ASK/ASVK → leaf (cached), then the per-report checks.
  auto chain_result = chain_for(leaf_der, intermediate, ark, claims.signer);
  if (!chain_result) {
    return chain_result.error();
  }
  const Chain& chain = **chain_result;
  const std::string_view kind = leaf_name(claims.signer);
  if (report.cpuid_product && *report.cpuid_product != chain.product) {
    return fail(Errc::ProductMismatch,
                fmt::format("report CPUID says {} but the {} is for {}",
                            to_string(*report.cpuid_product), kind, to_string(chain.product)));
  }
  apply_product(report, chain.product);

  const std::int64_t now_seconds = to_unix_seconds(now);
  for (const auto& window : chain.windows) {
    if (auto failure = check_validity(window, now_seconds)) {
      return *failure;
    }
  }
  if (auto failure = check_revocation(chain, now_seconds)) {
    return *failure;
  }

  // 5. Certificate ↔ report binding (verification.md §2.3 step 5).
  if (chain.kind == Signer::Vcek) {
    const Bytes& hw_id = *chain.extensions.hw_id;
    const ByteView chip(claims.chip_id);
    // With MASK_CHIP_ID the firmware zeroes CHIP_ID (checked by parse_report); the VCEK
    // signature below still authenticates the report as coming from the chip owning this VCEK.
    if (!claims.mask_chip_key && (!std::equal(hw_id.begin(), hw_id.end(), chip.begin()) ||
                                  !detail::all_zero(chip.subspan(hw_id.size())))) {
      return fail(Errc::ChipIdMismatch,
                  fmt::format("VCEK hwID {}… is not the report's CHIP_ID {}…",
                              to_hex(ByteView(hw_id).first(8)), to_hex(chip.first(8))));
    }
  }
  if (auto failure = check_tcb(chain.extensions, claims.reported_tcb, chain.product, chain.kind)) {
    return *failure;
  }

  // 6. The report signature.
  const auto signature = check_report_signature(report, X509_get0_pubkey(chain.leaf.get()));
  if (signature == SignatureCheck::InternalError) {
    return fail(Errc::InternalError, "while checking the report signature");
  }
  if (signature == SignatureCheck::Invalid) {
    return fail(Errc::ReportSignatureInvalid,
                fmt::format("report signature does not verify with the {}", kind));
  }

  // 7. The binding to the TLS session (interop spec §3).
  if (expected && !equal_constant_time(report.report_data, *expected)) {
    return fail(Errc::ReportDataMismatch, fmt::format("REPORT_DATA {}… is not the expected {}…",
                                                      to_hex(ByteView(report.report_data).first(8)),
                                                      to_hex(ByteView(*expected).first(8))));
  }
  return VerifiedSnpReport{std::move(report.claims), report.report_data};
}

SnpVerifier::SnpVerifier(CertificateSourcePtr source, SnpVerifierOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = std::move(source);
  impl_->cache_capacity = options.chain_cache_capacity;
  if (options.trust_insecure_test_anchors_for_testing) {
    const auto& test = *options.trust_insecure_test_anchors_for_testing;
    auto anchors = TrustAnchors::insecure_for_testing(test.ark_der, test.ask_der, test.asvk_der);
    if (anchors) {
      impl_->anchors = std::move(*anchors);
    } else {
      impl_->anchor_failure = anchors.error();
    }
  } else {
    auto anchors = TrustAnchors::pinned();
    if (anchors) {
      impl_->anchors = std::move(*anchors);
    } else {
      impl_->anchor_failure = Failure{anchors.error(), "the built-in AMD anchors"};
    }
  }
  impl_->load_crls(options.crls);
  impl_->crl_source = std::move(options.crl_source);
  for (const Product product : options.crl_products) {
    impl_->crl_required[static_cast<std::size_t>(product)] = true;
  }
}

SnpVerifier::~SnpVerifier() = default;

bool SnpVerifier::handles(AttestationType type) const noexcept {
  return type == AttestationType::SevSnp || type == AttestationType::GcpSnp;
}

bool SnpVerifier::insecure_for_testing() const noexcept {
  return impl_->anchors && impl_->anchors->insecure();
}

Outcome<VerifiedSnpReport> SnpVerifier::verify_report(ByteView report,
                                                      const CertTable& certificates,
                                                      const std::optional<ReportData>& expected,
                                                      SystemTime now) const {
  return impl_->verify(report, certificates, expected, now);
}

Outcome<VerifiedClaims> SnpVerifier::verify_evidence(AttestationType type, ByteView evidence,
                                                     const ReportData& expected_report_data,
                                                     SystemTime now) const {
  if (!handles(type)) {
    return fail(Errc::UnsupportedAttestationType, std::string(to_string(type)));
  }
  auto decoded = decode_evidence(evidence);
  if (!decoded) {
    return Failure{decoded.error(), "in the SNP evidence container"};
  }
  auto report = impl_->verify(decoded->report, decoded->certificates, expected_report_data, now);
  if (!report) {
    return report.error();
  }
  VerifiedClaims verified;
  verified.type = type;
  verified.report_data = report->report_data;
  verified.snp = std::move(report->claims);
  return verified;
}

Result<VerifiedClaims> SnpVerifier::verify(AttestationType type, ByteView evidence,
                                           const ReportData& expected_report_data,
                                           SystemTime now) const {
  auto verified = verify_evidence(type, evidence, expected_report_data, now);
  if (!verified) {
    return verified.error().code;
  }
  return std::move(*verified);
}

}  // namespace atls::attest::snp
