#include "attest/tdx/quote_verifier.h"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>

#include "attest/tdx/errors.h"
#include "core/digest.h"

namespace atls::attest::tdx {
namespace {

/// Bound on every memo table; a full table is cleared (entries are cheap to recompute, and the
/// working set of a proxy is a handful of platforms and collateral bundles).
constexpr std::size_t kMaxCacheEntries = 512;

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::string date_text(SystemTime time) {
  return format_rfc3339(time);
}

using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, tls::OsslDeleter<X509_STORE_CTX_free>>;
// sk_X509_free is a macro, so it cannot be an OsslDeleter argument.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const noexcept { sk_X509_free(stack); }
};

/// Validity windows of `certs` (the anchor's included) in SystemTime, for cheap per-call checks.
std::optional<std::vector<CertWindow>> windows_of(const std::vector<X509*>& certs) {
  std::vector<CertWindow> out;
  for (X509* cert : certs) {
    const auto not_before = asn1_time_to_system(X509_get0_notBefore(cert));
    const auto not_after = asn1_time_to_system(X509_get0_notAfter(cert));
    if (!not_before || !not_after) {
      return std::nullopt;
    }
    out.push_back(CertWindow{*not_before, *not_after, common_name(X509_get_subject_name(cert))});
  }
  return out;
}

/// Checks `now` against every window; `expired` / `not_yet_valid` name the failure.
Outcome<void> check_windows(const std::vector<CertWindow>& windows, SystemTime now, Errc expired,
                            Errc not_yet_valid, std::string_view what) {
  for (const auto& window : windows) {
    if (now < window.not_before) {
      return fail(not_yet_valid, std::string(what) + ": \"" + window.subject + "\" valid from " +
                                     date_text(window.not_before));
    }
    if (now > window.not_after) {
      return fail(expired, std::string(what) + ": \"" + window.subject + "\" expired " +
                               date_text(window.not_after));
    }
  }
  return {};
}

/// Path validation of `chain` (leaf first, the last element being the root as carried in the
/// evidence or collateral) to `anchor`, ignoring time (windows are checked per call against
/// `now`). X509_V_FLAG_X509_STRICT adds RFC 5280 profile checks; only the anchor is trusted.
Outcome<void> validate_path(const std::vector<tls::X509Ptr>& chain,
                            const TrustAnchors::Anchor& anchor, Errc invalid) {
  tls::X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), anchor.cert.get()) != 1) {
    return fail(Errc::CryptoFailure, "X509_STORE");
  }
  std::unique_ptr<STACK_OF(X509), X509StackDeleter> untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i + 1 < chain.size(); ++i) {
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get()) != 1) {
    return fail(Errc::CryptoFailure, "X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME);
  const int ok = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok != 1) {
    return fail(invalid, X509_verify_cert_error_string(error));
  }
  // The built path must be exactly the given chain (no shorter path through the anchor).
  if (static_cast<std::size_t>(sk_X509_num(X509_STORE_CTX_get0_chain(ctx.get()))) != chain.size()) {
    return fail(invalid, "validated path length differs from the chain");
  }
  return {};
}

bool is_revoked(X509_CRL* crl, X509* cert) {
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(cert)) == 1;
}

std::uint64_t le64(const std::array<std::uint8_t, 8>& bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  }
  return value;
}

}  // namespace

/// Byte-only results for one collateral bundle (see the file comment of quote_verifier.h).
struct QuoteVerifier::CollateralState {
  struct Chain {
    std::optional<Failure> error;     ///< chain shape, anchor or path validation failure
    std::vector<CertWindow> windows;  ///< signer and root
    bool signer_revoked = false;      ///< signer listed on the root CA CRL
    bool signature_valid = false;     ///< document signed by the chain's signer
  };
  std::optional<Failure> root_crl_error;
  const TrustAnchors::Anchor* anchor = nullptr;  ///< root that signed the root CA CRL
  bool root_revoked = false;
  SystemTime root_crl_this_update;
  SystemTime root_crl_next_update;
  Chain pck_crl;
  SystemTime pck_crl_this_update;
  SystemTime pck_crl_next_update;
  Chain tcb_info;
  Chain qe_identity;
};

QuoteVerifier::QuoteVerifier(TrustAnchorsPtr anchors) : anchors_(std::move(anchors)) {}

std::shared_ptr<const QuoteVerifier::CollateralState> QuoteVerifier::collateral_state(
    const Collateral& collateral) const {
  {
    std::lock_guard lock(collateral_mutex_);
    if (const auto it = collateral_cache_.find(collateral.digest());
        it != collateral_cache_.end()) {
      return it->second;
    }
  }
  auto state = std::make_shared<CollateralState>();
  // Root CA CRL: must be issued and signed by a trusted anchor (verification.md §1.3 step 5).
  X509_CRL* root_crl = collateral.root_ca_crl();
  for (const auto& anchor : anchors_->anchors()) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(root_crl), X509_get_subject_name(anchor.cert.get())) !=
        0) {
      continue;
    }
    if (X509_CRL_verify(root_crl, X509_get0_pubkey(anchor.cert.get())) == 1) {
      state->anchor = &anchor;
      break;
    }
    state->root_crl_error = fail(Errc::RootCrlSignatureInvalid);
  }
  ERR_clear_error();
  if (state->anchor == nullptr && !state->root_crl_error) {
    state->root_crl_error = fail(
        Errc::RootNotTrusted, "root CA CRL issuer \"" + common_name(X509_CRL_get_issuer(root_crl)) +
                                  "\" is not a trusted root");
  }
  if (state->anchor != nullptr) {
    state->root_crl_error.reset();
    state->root_revoked = is_revoked(root_crl, state->anchor->cert.get());
  }
  state->root_crl_this_update =
      asn1_time_to_system(X509_CRL_get0_lastUpdate(root_crl)).value_or(SystemTime::max());
  state->root_crl_next_update =
      asn1_time_to_system(X509_CRL_get0_nextUpdate(root_crl)).value_or(SystemTime::min());
  X509_CRL* pck_crl = collateral.pck_crl();
  state->pck_crl_this_update =
      asn1_time_to_system(X509_CRL_get0_lastUpdate(pck_crl)).value_or(SystemTime::max());
  state->pck_crl_next_update =
      asn1_time_to_system(X509_CRL_get0_nextUpdate(pck_crl)).value_or(SystemTime::min());

  // Issuer chains: exactly [signer, root]. Intel's are; longer chains would need CRLs for their
  // intermediates, which the collateral does not carry (QVL and dcap-qvl revocation model).
  const auto check_chain = [&](const std::vector<tls::X509Ptr>& chain, Errc invalid,
                               CollateralState::Chain& out) {
    if (chain.size() != 2) {
      out.error = fail(invalid, "issuer chain has " + std::to_string(chain.size()) +
                                    " certificates, expected signer and root");
      return;
    }
    const TrustAnchors::Anchor* anchor = anchors_->find(chain.back().get());
    if (anchor == nullptr) {
      out.error =
          fail(Errc::RootNotTrusted, "issuer chain root \"" +
                                         common_name(X509_get_subject_name(chain.back().get())) +
                                         "\" is not a trusted root");
      return;
    }
    if (state->anchor != nullptr && anchor != state->anchor) {
      out.error = fail(Errc::CollateralRootMismatch, "issuer chain ends in another root");
      return;
    }
    if (auto valid = validate_path(chain, *anchor, invalid); !valid) {
      out.error = valid.error();
      return;
    }
    auto windows = windows_of({chain[0].get(), chain[1].get()});
    if (!windows) {
      out.error = fail(invalid, "unreadable validity dates");
      return;
    }
    out.windows = std::move(*windows);
    out.signer_revoked = is_revoked(root_crl, chain[0].get());
  };
  check_chain(collateral.pck_crl_issuer_chain(), Errc::PckCrlChainInvalid, state->pck_crl);
  if (!state->pck_crl.error) {
    X509* signer = collateral.pck_crl_issuer_chain().front().get();
    state->pck_crl.signature_valid =
        X509_NAME_cmp(X509_CRL_get_issuer(pck_crl), X509_get_subject_name(signer)) == 0 &&
        X509_CRL_verify(pck_crl, X509_get0_pubkey(signer)) == 1;
  }
  const auto& documents = collateral.documents();
  check_chain(collateral.tcb_info_issuer_chain(), Errc::TcbInfoChainInvalid, state->tcb_info);
  if (!state->tcb_info.error) {
    state->tcb_info.signature_valid =
        verify_p256_raw(X509_get0_pubkey(collateral.tcb_info_issuer_chain().front().get()),
                        as_bytes(documents.tcb_info), documents.tcb_info_signature);
  }
  check_chain(collateral.qe_identity_issuer_chain(), Errc::QeIdentityChainInvalid,
              state->qe_identity);
  if (!state->qe_identity.error) {
    state->qe_identity.signature_valid =
        verify_p256_raw(X509_get0_pubkey(collateral.qe_identity_issuer_chain().front().get()),
                        as_bytes(documents.qe_identity), documents.qe_identity_signature);
  }
  ERR_clear_error();

  std::lock_guard lock(collateral_mutex_);
  if (collateral_cache_.size() >= kMaxCacheEntries) {
    collateral_cache_.clear();
  }
  collateral_cache_.emplace(collateral.digest(), state);
  return state;
}

Outcome<void> QuoteVerifier::check_collateral(const Collateral& collateral,
                                              const CollateralState& state, SystemTime now,
                                              bool require_tdx) const {
  // 1. Root CA CRL (interop §5.2 step 3.1).
  if (state.root_crl_error) {
    return *state.root_crl_error;
  }
  if (now < state.root_crl_this_update) {
    return fail(Errc::RootCrlNotYetValid, "thisUpdate " + date_text(state.root_crl_this_update));
  }
  if (now > state.root_crl_next_update) {
    return fail(Errc::RootCrlExpired, "nextUpdate " + date_text(state.root_crl_next_update));
  }
  if (state.root_revoked) {
    return fail(Errc::RootRevoked);
  }
  // 2. PCK CRL: issuer chain, signature, freshness (verification.md §1.3 step 5).
  if (state.pck_crl.error) {
    return *state.pck_crl.error;
  }
  if (auto windows = check_windows(state.pck_crl.windows, now, Errc::CollateralCertExpired,
                                   Errc::CollateralCertNotYetValid, "PCK CRL issuer chain");
      !windows) {
    return windows.error();
  }
  if (state.pck_crl.signer_revoked) {
    return fail(Errc::PckCaRevoked, "PCK CRL issuer is on the root CA CRL");
  }
  if (!state.pck_crl.signature_valid) {
    return fail(Errc::PckCrlSignatureInvalid);
  }
  if (now < state.pck_crl_this_update) {
    return fail(Errc::PckCrlNotYetValid, "thisUpdate " + date_text(state.pck_crl_this_update));
  }
  if (now > state.pck_crl_next_update) {
    return fail(Errc::PckCrlExpired, "nextUpdate " + date_text(state.pck_crl_next_update));
  }
  // 3. TCB info (verification.md §1.3 step 6; interop §5.2 step 3.3).
  const TcbInfo& tcb_info = collateral.tcb_info();
  if (now < tcb_info.issue_date) {
    return fail(Errc::TcbInfoNotYetValid, "issueDate " + date_text(tcb_info.issue_date));
  }
  if (now > tcb_info.next_update) {
    return fail(Errc::TcbInfoExpired, "nextUpdate " + date_text(tcb_info.next_update));
  }
  if (state.tcb_info.error) {
    return *state.tcb_info.error;
  }
  if (auto windows = check_windows(state.tcb_info.windows, now, Errc::CollateralCertExpired,
                                   Errc::CollateralCertNotYetValid, "TCB info issuer chain");
      !windows) {
    return windows.error();
  }
  if (state.tcb_info.signer_revoked) {
    return fail(Errc::CollateralSignerRevoked, "TCB info signer is on the root CA CRL");
  }
  if (!state.tcb_info.signature_valid) {
    return fail(Errc::TcbInfoSignatureInvalid);
  }
  if (require_tdx && tcb_info.id != "TDX") {
    return fail(Errc::TcbInfoNotTdx, "id \"" + tcb_info.id + "\"");
  }
  if (require_tdx && tcb_info.version != 3) {
    return fail(Errc::UnsupportedTcbInfoVersion, "version " + std::to_string(tcb_info.version));
  }
  // 4. QE identity (verification.md §1.3 step 7; interop §5.2 step 3.5).
  const QeIdentity& qe_identity = collateral.qe_identity();
  if (now < qe_identity.issue_date) {
    return fail(Errc::QeIdentityNotYetValid, "issueDate " + date_text(qe_identity.issue_date));
  }
  if (now > qe_identity.next_update) {
    return fail(Errc::QeIdentityExpired, "nextUpdate " + date_text(qe_identity.next_update));
  }
  if (state.qe_identity.error) {
    return *state.qe_identity.error;
  }
  if (auto windows = check_windows(state.qe_identity.windows, now, Errc::CollateralCertExpired,
                                   Errc::CollateralCertNotYetValid, "QE identity issuer chain");
      !windows) {
    return windows.error();
  }
  if (state.qe_identity.signer_revoked) {
    return fail(Errc::CollateralSignerRevoked, "QE identity signer is on the root CA CRL");
  }
  if (!state.qe_identity.signature_valid) {
    return fail(Errc::QeIdentitySignatureInvalid);
  }
  if (require_tdx && qe_identity.id != "TD_QE") {
    return fail(Errc::QeIdentityNotTdQe, "id \"" + qe_identity.id + "\"");
  }
  if (require_tdx && qe_identity.version != 2 && qe_identity.version != 3) {
    return fail(Errc::UnsupportedQeIdentityVersion,
                "version " + std::to_string(qe_identity.version));
  }
  return {};
}

Outcome<void> QuoteVerifier::verify_collateral(const Collateral& collateral, SystemTime now) const {
  return check_collateral(collateral, *collateral_state(collateral), now, true);
}

Outcome<void> QuoteVerifier::verify_collateral_signatures(const Collateral& collateral,
                                                          SystemTime now) const {
  return check_collateral(collateral, *collateral_state(collateral), now, false);
}

Outcome<PckChainPtr> QuoteVerifier::pck_chain(const std::string& pem) const {
  const Sha256 digest = sha256(as_bytes(pem));
  {
    std::lock_guard lock(chain_mutex_);
    if (const auto it = chain_cache_.find(digest); it != chain_cache_.end()) {
      return it->second;
    }
  }
  const auto build = [&]() -> Outcome<PckChainPtr> {
    auto certs = parse_pem_chain(pem, make_error_code(Errc::PckChainMalformed));
    if (!certs) {
      return certs.error();
    }
    // verification.md §1.3 step 2: leaf, PCK Platform/Processor CA, root.
    if (certs->size() != 3) {
      return fail(Errc::PckChainLengthInvalid,
                  std::to_string(certs->size()) + " certificates in the quote");
    }
    auto chain = std::make_shared<PckChain>();
    chain->digest = digest;
    chain->certs = std::move(*certs);
    X509* leaf = chain->certs[0].get();
    auto extension = parse_pck_extension(leaf);
    if (!extension) {
      return extension.error();
    }
    chain->extension = *extension;
    const auto ca_type = pck_ca_type_from_issuer(leaf);
    if (!ca_type) {
      return fail(Errc::PckCaTypeUnknown,
                  "issuer \"" + common_name(X509_get_issuer_name(leaf)) + "\"");
    }
    chain->ca_type = *ca_type;
    auto windows = windows_of({leaf, chain->certs[1].get(), chain->certs[2].get()});
    if (!windows) {
      return fail(Errc::PckChainMalformed, "unreadable validity dates");
    }
    chain->windows = std::move(*windows);

    // Path validation against the anchors (time-independent; reported later in the order).
    chain->anchor = anchors_->find(chain->certs[2].get());
    if (chain->anchor == nullptr) {
      chain->validation_error =
          fail(Errc::RootNotTrusted,
               "PCK chain root \"" + chain->windows[2].subject + "\" is not a trusted root");
    } else if (common_name(X509_get_subject_name(leaf)).find("SGX PCK Certificate") ==
               std::string::npos) {
      // QVL 4.1.2.4.4.
      chain->validation_error =
          fail(Errc::PckChainInvalid, "leaf CN does not contain \"SGX PCK Certificate\"");
    } else if (auto valid = validate_path(chain->certs, *chain->anchor, Errc::PckChainInvalid);
               !valid) {
      chain->validation_error = valid.error();
    } else if (EVP_PKEY* key = X509_get0_pubkey(leaf); key == nullptr ||
                                                       EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
                                                       EVP_PKEY_get_bits(key) != 256) {
      chain->validation_error = fail(Errc::PckChainInvalid, "PCK key is not ECDSA P-256");
    }
    if (chain->validation_error) {
      chain->anchor = nullptr;
    }
    return PckChainPtr(std::move(chain));
  };
  Outcome<PckChainPtr> result = build();
  std::lock_guard lock(chain_mutex_);
  if (chain_cache_.size() >= kMaxCacheEntries) {
    chain_cache_.clear();
  }
  chain_cache_.emplace(digest, result);
  return result;
}

Outcome<PreparedQuote> QuoteVerifier::prepare(ByteView quote_bytes) const {
  auto quote = parse_quote(quote_bytes);
  if (!quote) {
    return quote.error();
  }
  auto chain = pck_chain(quote->pck_chain_pem);
  if (!chain) {
    return chain.error();
  }
  return PreparedQuote{std::move(*quote), std::move(*chain)};
}

bool QuoteVerifier::qe_report_signature_valid(const Quote& quote, const PckChain& chain) const {
  // Memo key: everything the verification depends on (report, signature, PCK key via the
  // chain digest). An ECDSA verification is a pure function of these bytes.
  Bytes key_material(quote.qe_report.raw.begin(), quote.qe_report.raw.end());
  key_material.insert(key_material.end(), quote.qe_report_signature.begin(),
                      quote.qe_report_signature.end());
  key_material.insert(key_material.end(), chain.digest.begin(), chain.digest.end());
  const Sha256 key = sha256(key_material);
  {
    std::lock_guard lock(qe_mutex_);
    if (verified_qe_reports_.count(key) != 0) {
      return true;
    }
  }
  if (!verify_p256_raw(X509_get0_pubkey(chain.certs[0].get()), quote.qe_report.raw,
                       quote.qe_report_signature)) {
    return false;
  }
  std::lock_guard lock(qe_mutex_);
  if (verified_qe_reports_.size() >= kMaxCacheEntries) {
    verified_qe_reports_.clear();
  }
  verified_qe_reports_.insert(key);
  return true;
}

std::shared_ptr<EVP_PKEY> QuoteVerifier::attestation_key(const Quote& quote) const {
  {
    std::lock_guard lock(key_mutex_);
    if (const auto it = key_cache_.find(quote.attestation_key); it != key_cache_.end()) {
      return it->second;
    }
  }
  tls::EvpPkeyPtr imported = p256_key_from_raw(quote.attestation_key);
  if (!imported) {
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key(imported.release(), EVP_PKEY_free);
  std::lock_guard lock(key_mutex_);
  if (key_cache_.size() >= kMaxCacheEntries) {
    key_cache_.clear();
  }
  key_cache_.emplace(quote.attestation_key, key);
  return key;
}

Outcome<void> check_td_attributes(const Quote& quote) {
  // dcap-qvl validate_attrs (interop §5.2 step 13). TD 1.5: a service TD binding would make the
  // measurements depend on another TD, so MRSERVICETD must be zero.
  if (quote.body_type == kBodyTypeTdReport15 &&
      std::any_of(quote.body.mr_servicetd.begin(), quote.body.mr_servicetd.end(),
                  [](std::uint8_t b) { return b != 0; })) {
    return fail(Errc::MrServiceTdNotZero);
  }
  // TDATTRIBUTES (Intel TDX module ABI, table "TD attributes"): TUD byte 0 (bit 0 DEBUG, bits
  // 1-7 reserved), SEC bits 8-31 (28 SEPT_VE_DISABLE, 30 PKS, 31 KL; 8-27 and 29 reserved),
  // OTHER bits 32-63 (63 PERFMON; 32-62 reserved).
  const std::uint64_t attributes = le64(quote.body.td_attributes);
  const std::string hex = to_hex(quote.body.td_attributes);
  if (attributes & 0xfeULL) {
    return fail(Errc::TdAttributesInvalid, "reserved TUD bits in " + hex);
  }
  if (attributes & 0x01ULL) {
    return fail(Errc::TdDebugEnabled, "TDATTRIBUTES " + hex);
  }
  constexpr std::uint64_t kReservedSec = 0x0fffff00ULL | (1ULL << 29);
  constexpr std::uint64_t kReservedOther = 0x7fffffff00000000ULL;
  if (attributes & (kReservedSec | kReservedOther)) {
    return fail(Errc::TdAttributesInvalid, "reserved bits in " + hex);
  }
  if (!(attributes & (1ULL << 28))) {
    return fail(Errc::TdSeptVeDisableMissing, "TDATTRIBUTES " + hex);
  }
  return {};
}

Outcome<TdxVerification> QuoteVerifier::verify(ByteView quote_bytes, const Collateral& collateral,
                                               SystemTime now,
                                               const ReportData& expected_report_data,
                                               const VerifyOptions& options) const {
  auto prepared = prepare(quote_bytes);
  if (!prepared) {
    return prepared.error();
  }
  return verify(*prepared, collateral, now, expected_report_data, options);
}

Outcome<TdxVerification> QuoteVerifier::verify(const PreparedQuote& prepared,
                                               const Collateral& collateral, SystemTime now,
                                               const ReportData& expected_report_data,
                                               const VerifyOptions& options) const {
  const Quote& quote = prepared.quote;
  const PckChain& chain = *prepared.pck;
  const PckExtension& pck = chain.extension;

  // 0. Header semantics (verification.md §1.3 step 1; parse_quote checked the rest).
  if (quote.header.qe_vendor_id != kIntelQeVendorId) {
    return fail(Errc::QeVendorNotIntel, to_hex(quote.header.qe_vendor_id));
  }

  // 1-4. Collateral: root CRL, PCK CRL, TCB info, QE identity.
  const auto state = collateral_state(collateral);
  if (auto checked = check_collateral(collateral, *state, now, true); !checked) {
    return checked.error();
  }

  // 5. PCK chain from the quote (verification.md §1.3 steps 2-5).
  if (chain.validation_error) {
    return *chain.validation_error;
  }
  if (chain.anchor != state->anchor) {
    return fail(Errc::CollateralRootMismatch, "PCK chain and collateral end in different roots");
  }
  if (auto windows = check_windows(chain.windows, now, Errc::PckCertExpired,
                                   Errc::PckCertNotYetValid, "PCK chain");
      !windows) {
    return windows.error();
  }
  X509* leaf = chain.certs[0].get();
  X509* pck_ca = chain.certs[1].get();
  if (is_revoked(collateral.root_ca_crl(), pck_ca)) {
    return fail(Errc::PckCaRevoked);
  }
  // QVL 4.1.2.4.6: the PCK CRL must come from the PCK certificate's issuer. Its signature was
  // checked with the collateral's issuer chain; require that CA to be the quote's CA (same name
  // and same key), so a CRL of another CA can never vouch for this PCK.
  X509* crl_signer = collateral.pck_crl_issuer_chain().front().get();
  if (X509_NAME_cmp(X509_CRL_get_issuer(collateral.pck_crl()), X509_get_issuer_name(leaf)) != 0 ||
      EVP_PKEY_eq(X509_get0_pubkey(crl_signer), X509_get0_pubkey(pck_ca)) != 1) {
    ERR_clear_error();
    return fail(Errc::PckCrlIssuerMismatch,
                "PCK CRL issuer \"" + common_name(X509_CRL_get_issuer(collateral.pck_crl())) +
                    "\", PCK issuer \"" + common_name(X509_get_issuer_name(leaf)) + "\"");
  }
  if (is_revoked(collateral.pck_crl(), leaf)) {
    return fail(Errc::PckRevoked);
  }

  // 6. QE report signed by the PCK key (verification.md §1.3 step 9).
  if (!qe_report_signature_valid(quote, chain)) {
    return fail(Errc::QeReportSignatureInvalid);
  }
  // 7. QE report data = SHA-256(attestation key || QE auth data) || 32 zero bytes (step 10).
  if (quote.qe_auth_data.size() != 32) {
    return fail(Errc::QeAuthDataSizeInvalid, std::to_string(quote.qe_auth_data.size()) + " bytes");
  }
  Bytes binding(quote.attestation_key.begin(), quote.attestation_key.end());
  binding.insert(binding.end(), quote.qe_auth_data.begin(), quote.qe_auth_data.end());
  const Sha256 expected_binding = sha256(binding);
  const auto& qe_report_data = quote.qe_report.report_data;
  if (!std::equal(expected_binding.begin(), expected_binding.end(), qe_report_data.begin()) ||
      std::any_of(qe_report_data.begin() + 32, qe_report_data.end(),
                  [](std::uint8_t b) { return b != 0; })) {
    return fail(Errc::QeReportDataMismatch);
  }
  // 8. QE identity (step 11).
  const QeIdentity& qe_identity = collateral.qe_identity();
  const EnclaveReport& qe = quote.qe_report;
  if (qe.mr_signer != qe_identity.mr_signer) {
    return fail(Errc::QeMrsignerMismatch, to_hex(qe.mr_signer));
  }
  if (qe.isv_prod_id != qe_identity.isv_prod_id) {
    return fail(Errc::QeIsvprodidMismatch, std::to_string(qe.isv_prod_id));
  }
  if ((qe.misc_select & qe_identity.miscselect_mask) !=
      (qe_identity.miscselect & qe_identity.miscselect_mask)) {
    return fail(Errc::QeMiscselectMismatch, std::to_string(qe.misc_select));
  }
  for (std::size_t i = 0; i < 16; ++i) {
    if ((qe.attributes[i] & qe_identity.attributes_mask[i]) !=
        (qe_identity.attributes[i] & qe_identity.attributes_mask[i])) {
      return fail(Errc::QeAttributesMismatch, to_hex(qe.attributes));
    }
  }
  if (qe.attributes[0] & 0x02) {
    // SGX ATTRIBUTES.DEBUG: the QE must run in production mode whatever the identity's mask.
    return fail(Errc::QeDebugEnabled);
  }
  auto qe_level = match_qe_tcb_level(qe_identity, qe.isv_svn);
  if (!qe_level) {
    return qe_level.error();
  }
  // 9. Quote signature by the attestation key over header (+ descriptor) + body (step 12).
  const auto key = attestation_key(quote);
  if (!key) {
    return fail(Errc::AttestationKeyInvalid);
  }
  if (!verify_p256_raw(key.get(), quote.signed_data, quote.signature)) {
    return fail(Errc::QuoteSignatureInvalid);
  }
  // 10. TCB info belongs to this platform (QVL 4.1.2.4.9-10).
  const TcbInfo& tcb_info = collateral.tcb_info();
  if (tcb_info.fmspc != pck.fmspc) {
    return fail(Errc::FmspcMismatch,
                "TCB info " + to_hex(tcb_info.fmspc) + ", PCK " + to_hex(pck.fmspc));
  }
  if (tcb_info.pce_id != pck.pce_id) {
    return fail(Errc::PceidMismatch,
                "TCB info " + to_hex(tcb_info.pce_id) + ", PCK " + to_hex(pck.pce_id));
  }
  // 11-12. Module identity, TCB levels, convergence (§1.3 steps 8, 13; §1.4).
  TcbEvaluationOptions tcb_options;
  tcb_options.azure_outdated_tcb_override = options.azure_outdated_tcb_override;
  auto tcb = evaluate_tdx_tcb(tcb_info, pck, quote, *qe_level, tcb_options);
  if (!tcb) {
    return tcb.error();
  }
  if (tcb->status == TcbStatus::Revoked) {
    return fail(Errc::TcbRevoked,
                std::string("level ") + std::string(to_string(tcb->tdx_level_status)) + ", QE " +
                    std::string(to_string(tcb->qe_status)) +
                    (tcb->module_status ? ", module " + std::string(to_string(*tcb->module_status))
                                        : std::string()));
  }
  // 13. TD attributes (interop §5.2 step 13).
  if (auto attributes = check_td_attributes(quote); !attributes) {
    return attributes.error();
  }
  // 14. REPORTDATA binding, last (interop §5.2 step 5).
  if (!equal_constant_time(quote.body.report_data, expected_report_data)) {
    return fail(Errc::ReportDataMismatch);
  }

  TdxVerification out;
  out.status = tcb->status;
  out.pck = pck;
  out.ca_type = chain.ca_type;
  const TdReport& body = quote.body;
  out.measurements[0] = Bytes(body.mr_td.begin(), body.mr_td.end());
  for (unsigned i = 0; i < 4; ++i) {
    out.measurements[i + 1] = Bytes(body.rtmr[i].begin(), body.rtmr[i].end());
  }
  std::copy(body.report_data.begin(), body.report_data.end(), out.report_data.begin());
  TdxClaims& claims = out.claims;
  claims.quote_version = quote.header.version;
  claims.body_type = quote.body_type;
  claims.tee_tcb_svn = body.tee_tcb_svn;
  claims.mr_seam = body.mr_seam;
  claims.mr_signer_seam = body.mr_signer_seam;
  claims.seam_attributes = le64(body.seam_attributes);
  claims.td_attributes = le64(body.td_attributes);
  claims.xfam = le64(body.xfam);
  claims.mr_config_id = body.mr_config_id;
  claims.mr_owner = body.mr_owner;
  claims.mr_owner_config = body.mr_owner_config;
  claims.tee_tcb_svn2 = body.tee_tcb_svn2;
  claims.mr_servicetd = body.mr_servicetd;
  claims.fmspc = pck.fmspc;
  claims.cpu_svn = pck.cpu_svn;
  claims.pce_svn = pck.pce_svn;
  claims.pce_id = pck.pce_id;
  claims.pck_ca = std::string(to_string(chain.ca_type));
  claims.qe_isv_svn = qe.isv_svn;
  claims.platform_tcb_status = std::string(to_string(tcb->tdx_level_status));
  claims.qe_tcb_status = std::string(to_string(tcb->qe_status));
  claims.tdx_module_tcb_status =
      tcb->module_status ? std::string(to_string(*tcb->module_status)) : std::string();
  claims.tcb_status = std::string(to_string(tcb->status));
  claims.tcb_date = tcb->tdx_level_date;
  claims.tcb_evaluation_data_number = tcb_info.tcb_evaluation_data_number;
  claims.azure_outdated_tcb_override_applied = tcb->azure_override_applied;
  out.tcb = std::move(*tcb);
  return out;
}

}  // namespace atls::attest::tdx
