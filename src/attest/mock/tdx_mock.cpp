#include "attest/mock/tdx_mock.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attest/tdx/x509_util.h"
#include "tls/certificate_builder.h"

namespace atls::attest::mock {
namespace {

constexpr std::array kTable{
    errc_row(TdxMockErrc::KeyGenerationFailed, "key_generation_failed",
             "mock TDX key or certificate generation failed"),
    errc_row(TdxMockErrc::SigningFailed, "signing_failed", "mock TDX signing failed"),
    errc_row(TdxMockErrc::ExportFailed, "export_failed", "cannot write the mock TDX PKI"),
    errc_row(TdxMockErrc::ImportFailed, "import_failed", "cannot read an exported mock TDX PKI"),
    errc_row(TdxMockErrc::InvalidOptions, "invalid_options", "invalid mock TDX quote options"),
};

const NamedCategory kCategory{"tdx_mock", kTable};

using nlohmann::ordered_json;

Failure mock_failure(TdxMockErrc code, std::string detail) {
  return Failure{make_error_code(code), std::move(detail) + ": " + tls::drain_openssl_errors()};
}

std::array<std::uint8_t, 32> sha256_of(std::string_view text) {
  return tdx::sha256(as_bytes(text));
}

std::string upper_hex(ByteView bytes) {
  std::string hex = to_hex(bytes);
  for (auto& c : hex) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return hex;
}

// --- DER encoding of the Intel SGX PCK extension (PCK certificate profile §3.5) -------------

Bytes der(std::uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const std::size_t size = content.size();
  if (size < 0x80) {
    out.push_back(static_cast<std::uint8_t>(size));
  } else if (size < 0x100) {
    out.insert(out.end(), {0x81, static_cast<std::uint8_t>(size)});
  } else {
    out.insert(out.end(),
               {0x82, static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes der_sgx_oid(std::initializer_list<std::uint8_t> arcs) {
  Bytes content{0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
  content.insert(content.end(), arcs.begin(), arcs.end());
  return der(0x06, content);
}

Bytes der_uint(std::uint8_t tag, std::uint32_t value) {
  Bytes content;
  do {
    content.insert(content.begin(), static_cast<std::uint8_t>(value));
    value >>= 8;
  } while (value != 0);
  if (content.front() & 0x80) {
    content.insert(content.begin(), 0x00);
  }
  return der(tag, content);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

Bytes sgx_entry(std::initializer_list<std::uint8_t> arcs, const Bytes& value) {
  return der(0x30, concat({der_sgx_oid(arcs), value}));
}

Bytes sgx_extension_der(const MockTdxPkiOptions& options, ByteView ppid) {
  Bytes tcb;
  for (std::uint8_t i = 0; i < 16; ++i) {
    const Bytes entry = sgx_entry({2, static_cast<std::uint8_t>(i + 1)},
                                  der_uint(0x02, options.sgx_tcb_components[i]));
    tcb.insert(tcb.end(), entry.begin(), entry.end());
  }
  const Bytes pcesvn = sgx_entry({2, 17}, der_uint(0x02, options.pce_svn));
  const Bytes cpusvn = sgx_entry({2, 18}, der(0x04, Bytes(options.sgx_tcb_components.begin(),
                                                          options.sgx_tcb_components.end())));
  tcb = concat({tcb, pcesvn, cpusvn});
  return der(0x30,
             concat({
                 sgx_entry({1}, der(0x04, Bytes(ppid.begin(), ppid.end()))),
                 sgx_entry({2}, der(0x30, tcb)),
                 sgx_entry({3}, der(0x04, Bytes(options.pce_id.begin(), options.pce_id.end()))),
                 sgx_entry({4}, der(0x04, Bytes(options.fmspc.begin(), options.fmspc.end()))),
                 sgx_entry({5}, der_uint(0x0a, 0)),
             }));
}

// --- keys, signatures, certificates, CRLs --------------------------------------------------

Outcome<std::array<std::uint8_t, 64>> sign_raw(EVP_PKEY* key, ByteView message) {
  std::unique_ptr<EVP_MD_CTX, tls::OsslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, message.data(), message.size()) != 1) {
    return mock_failure(TdxMockErrc::SigningFailed, "EVP_DigestSign");
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1) {
    return mock_failure(TdxMockErrc::SigningFailed, "EVP_DigestSign");
  }
  const unsigned char* p = signature.data();
  std::unique_ptr<ECDSA_SIG, tls::OsslDeleter<ECDSA_SIG_free>> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size)));
  std::array<std::uint8_t, 64> out{};
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 32, 32) != 32) {
    return mock_failure(TdxMockErrc::SigningFailed, "ECDSA signature encoding");
  }
  return out;
}

Outcome<std::array<std::uint8_t, 64>> raw_public_key(EVP_PKEY* key) {
  unsigned char point[65];
  std::size_t size = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &size) !=
          1 ||
      size != 65 || point[0] != 0x04) {
    return mock_failure(TdxMockErrc::KeyGenerationFailed, "public key encoding");
  }
  std::array<std::uint8_t, 64> out{};
  std::memcpy(out.data(), point + 1, 64);
  return out;
}

std::string to_pem(X509* cert) {
  tls::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return {};
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

struct Issued {
  tls::X509Ptr cert;
  tls::EvpPkeyPtr key;
};

Outcome<Issued> issue(const std::string& name, bool is_ca, const Issued* issuer, SystemTime from,
                      SystemTime until) {
  auto key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  if (!key) {
    return Failure{make_error_code(TdxMockErrc::KeyGenerationFailed), key.error().describe()};
  }
  tls::CertificateSpec spec;
  spec.common_name = name;
  spec.is_ca = is_ca;
  spec.not_before = from;
  spec.not_after = until;
  auto cert = tls::issue_certificate(spec, key->get(), issuer ? issuer->cert.get() : nullptr,
                                     issuer ? issuer->key.get() : nullptr);
  if (!cert) {
    return Failure{make_error_code(TdxMockErrc::KeyGenerationFailed), cert.error().describe()};
  }
  return Issued{std::move(*cert), std::move(*key)};
}

bool set_asn1_time(ASN1_TIME* field, SystemTime at) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  return ASN1_TIME_set(field, static_cast<time_t>(seconds.count())) != nullptr;
}

Outcome<Bytes> make_crl(const Issued& issuer, SystemTime this_update, SystemTime next_update,
                        X509* revoked) {
  tdx::X509CrlPtr crl(X509_CRL_new());
  std::unique_ptr<ASN1_TIME, tls::OsslDeleter<ASN1_TIME_free>> last(ASN1_TIME_new());
  std::unique_ptr<ASN1_TIME, tls::OsslDeleter<ASN1_TIME_free>> next(ASN1_TIME_new());
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.cert.get())) != 1 ||
      !set_asn1_time(last.get(), this_update) || !set_asn1_time(next.get(), next_update) ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return mock_failure(TdxMockErrc::SigningFailed, "CRL fields");
  }
  if (revoked != nullptr) {
    X509_REVOKED* entry = X509_REVOKED_new();
    if (entry == nullptr ||
        X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(revoked)) != 1 ||
        X509_REVOKED_set_revocationDate(entry, last.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return mock_failure(TdxMockErrc::SigningFailed, "CRL entry");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), issuer.key.get(), EVP_sha256()) == 0) {
    return mock_failure(TdxMockErrc::SigningFailed, "CRL signature");
  }
  unsigned char* encoded = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &encoded);
  if (length <= 0) {
    return mock_failure(TdxMockErrc::SigningFailed, "CRL encoding");
  }
  Bytes out(encoded, encoded + length);
  OPENSSL_free(encoded);
  return out;
}

// --- collateral documents (Intel PCS v4 data model) ----------------------------------------

ordered_json components_json(const std::array<std::uint8_t, 16>& svns) {
  ordered_json list = ordered_json::array();
  for (const auto svn : svns) {
    list.push_back({{"svn", svn}});
  }
  return list;
}

ordered_json advisories_json(const std::vector<std::string>& ids) {
  ordered_json list = ordered_json::array();
  for (const auto& id : ids) {
    list.push_back(id);
  }
  return list;
}

ordered_json module_json(const tdx::TdxModule& module) {
  return {{"mrsigner", upper_hex(module.mr_signer)},
          {"attributes", upper_hex(module.attributes)},
          {"attributesMask", upper_hex(module.attributes_mask)}};
}

std::string tcb_info_json(const MockTdxPkiOptions& options, SystemTime issue, SystemTime next) {
  ordered_json info;
  info["id"] = options.tcb_info_id;
  info["version"] = options.tcb_info_version;
  info["issueDate"] = tdx::format_rfc3339(issue);
  info["nextUpdate"] = tdx::format_rfc3339(next);
  info["fmspc"] = upper_hex(options.fmspc);
  info["pceId"] = upper_hex(options.pce_id);
  info["tcbType"] = 0;
  info["tcbEvaluationDataNumber"] = 1;
  tdx::TdxModule generic;
  generic.attributes_mask.fill(0xff);
  info["tdxModule"] = module_json(generic);
  ordered_json identities = ordered_json::array();
  for (const auto& identity : options.module_identities) {
    ordered_json entry{{"id", identity.id}};
    const ordered_json module = module_json(identity.module);
    for (const auto& [key, value] : module.items()) {
      entry[key] = value;
    }
    ordered_json levels = ordered_json::array();
    for (const auto& level : identity.tcb_levels) {
      ordered_json out{{"tcb", {{"isvsvn", level.isv_svn}}},
                       {"tcbDate", level.tcb_date},
                       {"tcbStatus", tdx::to_string(level.status)}};
      if (!level.advisory_ids.empty()) {
        out["advisoryIDs"] = advisories_json(level.advisory_ids);
      }
      levels.push_back(out);
    }
    entry["tcbLevels"] = levels;
    identities.push_back(entry);
  }
  info["tdxModuleIdentities"] = identities;
  ordered_json levels = ordered_json::array();
  for (const auto& level : options.tcb_levels) {
    ordered_json out{{"tcb",
                      {{"sgxtcbcomponents", components_json(level.sgx_components)},
                       {"pcesvn", level.pce_svn},
                       {"tdxtcbcomponents", components_json(level.tdx_components)}}},
                     {"tcbDate", level.tcb_date},
                     {"tcbStatus", tdx::to_string(level.status)}};
    if (!level.advisory_ids.empty()) {
      out["advisoryIDs"] = advisories_json(level.advisory_ids);
    }
    levels.push_back(out);
  }
  info["tcbLevels"] = levels;
  return info.dump();
}

std::string qe_identity_json(const MockTdxPkiOptions& options,
                             const std::array<std::uint8_t, 32>& mr_signer, SystemTime issue,
                             SystemTime next) {
  ordered_json identity;
  identity["id"] = options.qe_identity_id;
  identity["version"] = 2;
  identity["issueDate"] = tdx::format_rfc3339(issue);
  identity["nextUpdate"] = tdx::format_rfc3339(next);
  identity["tcbEvaluationDataNumber"] = 1;
  identity["miscselect"] = options.qe_identity_miscselect;
  identity["miscselectMask"] = "FFFFFFFF";
  // As Intel's TD_QE identity: INIT and MODE64BIT required, DEBUG (bit 1) must be clear.
  identity["attributes"] = options.qe_identity_attributes;
  identity["attributesMask"] = "FBFFFFFFFFFFFFFF0000000000000000";
  identity["mrsigner"] = upper_hex(options.qe_identity_mr_signer.value_or(mr_signer));
  identity["isvprodid"] = options.qe_identity_isv_prod_id.value_or(options.qe_isv_prod_id);
  ordered_json levels = ordered_json::array();
  for (const auto& level : options.qe_tcb_levels) {
    ordered_json out{{"tcb", {{"isvsvn", level.isv_svn}}},
                     {"tcbDate", level.tcb_date},
                     {"tcbStatus", tdx::to_string(level.status)}};
    if (!level.advisory_ids.empty()) {
      out["advisoryIDs"] = advisories_json(level.advisory_ids);
    }
    levels.push_back(out);
  }
  identity["tcbLevels"] = levels;
  return identity.dump();
}

void fill_defaults(MockTdxPkiOptions& options, SystemTime now) {
  const std::string date = tdx::format_rfc3339(now - std::chrono::hours(24 * 30));
  const std::string old_date = tdx::format_rfc3339(now - std::chrono::hours(24 * 365));
  if (options.tcb_levels.empty()) {
    tdx::TcbLevel current;
    current.sgx_components = options.sgx_tcb_components;
    current.pce_svn = options.pce_svn;
    current.tdx_components = {0, 0, 2};
    current.tcb_date = date;
    current.status = tdx::TcbStatus::UpToDate;
    tdx::TcbLevel old;
    old.tcb_date = old_date;
    old.status = tdx::TcbStatus::OutOfDate;
    old.advisory_ids = {"ATLS-MOCK-SA-00001"};
    options.tcb_levels = {current, old};
  }
  if (options.module_identities.empty()) {
    tdx::TdxModuleIdentity identity;
    identity.id = "TDX_01";
    identity.module.attributes_mask.fill(0xff);
    identity.tcb_levels = {
        {3, date, tdx::TcbStatus::UpToDate, {}},
        {1, old_date, tdx::TcbStatus::OutOfDate, {"ATLS-MOCK-SA-00002"}},
    };
    options.module_identities = {identity};
  }
  if (options.qe_tcb_levels.empty()) {
    options.qe_tcb_levels = {
        {8, date, tdx::TcbStatus::UpToDate, {}},
        {4, old_date, tdx::TcbStatus::OutOfDate, {"ATLS-MOCK-SA-00003"}},
    };
  }
}

void put_u16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_u32(Bytes& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

template <std::size_t N>
void put(Bytes& out, const std::array<std::uint8_t, N>& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

const NamedCategory& tdx_mock_category() noexcept {
  return kCategory;
}

Outcome<std::shared_ptr<const MockTdxPki>> MockTdxPki::create(SystemTime now,
                                                              MockTdxPkiOptions options) {
  fill_defaults(options, now);
  std::shared_ptr<MockTdxPki> pki(new MockTdxPki());
  const SystemTime from = now - std::chrono::hours(24);
  const SystemTime until = now + options.certificate_lifetime;

  auto root = issue(kMockRootName, true, nullptr, from, until);
  if (!root) {
    return root.error();
  }
  const char* ca_name =
      options.ca_type == tdx::PckCaType::Platform ? kMockPlatformCaName : kMockProcessorCaName;
  auto ca = issue(ca_name, true, &*root, from, until);
  if (!ca) {
    return ca.error();
  }
  auto pck = issue(kMockPckName, false, &*ca, from, until);
  if (!pck) {
    return pck.error();
  }
  // The SGX extension (verification.md §1.2) is added after issuance, then the leaf re-signed.
  const auto ppid = sha256_of("ATLS INSECURE MOCK PPID");
  const Bytes extension = sgx_extension_der(options, ByteView(ppid).first(16));
  std::unique_ptr<ASN1_OBJECT, tls::OsslDeleter<ASN1_OBJECT_free>> oid(
      OBJ_txt2obj(tdx::kSgxExtensionOid, 1));
  std::unique_ptr<ASN1_OCTET_STRING, tls::OsslDeleter<ASN1_OCTET_STRING_free>> value(
      ASN1_OCTET_STRING_new());
  if (!oid || !value ||
      ASN1_OCTET_STRING_set(value.get(), extension.data(), static_cast<int>(extension.size())) !=
          1) {
    return mock_failure(TdxMockErrc::KeyGenerationFailed, "SGX extension");
  }
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get());
  const bool added = ext != nullptr && X509_add_ext(pck->cert.get(), ext, -1) == 1;
  X509_EXTENSION_free(ext);
  if (!added || X509_sign(pck->cert.get(), ca->key.get(), EVP_sha256()) == 0) {
    return mock_failure(TdxMockErrc::KeyGenerationFailed, "PCK certificate");
  }
  auto signer = issue(kMockTcbSignerName, false, &*root, from, until);
  if (!signer) {
    return signer.error();
  }

  const SystemTime issued = now - std::chrono::hours(1);
  auto root_crl = make_crl(*root, issued, issued + std::chrono::hours(24 * 365),
                           options.revoke_pck_ca ? ca->cert.get() : nullptr);
  if (!root_crl) {
    return root_crl.error();
  }
  auto pck_crl = make_crl(*ca, issued, issued + options.crl_lifetime,
                          options.revoke_pck ? pck->cert.get() : nullptr);
  if (!pck_crl) {
    return pck_crl.error();
  }

  pki->qe_mr_signer_ = sha256_of("ATLS INSECURE MOCK TD QE signer");
  tdx::CollateralDocuments& documents = pki->documents_;
  const std::string root_pem = to_pem(root->cert.get());
  documents.pck_crl_issuer_chain = to_pem(ca->cert.get()) + root_pem;
  documents.tcb_info_issuer_chain = to_pem(signer->cert.get()) + root_pem;
  documents.qe_identity_issuer_chain = documents.tcb_info_issuer_chain;
  documents.root_ca_crl = std::move(*root_crl);
  documents.pck_crl = std::move(*pck_crl);
  documents.tcb_info = tcb_info_json(options, issued, issued + options.document_lifetime);
  documents.qe_identity =
      qe_identity_json(options, pki->qe_mr_signer_, issued, issued + options.document_lifetime);
  auto tcb_signature = sign_raw(signer->key.get(), as_bytes(documents.tcb_info));
  auto qe_signature = sign_raw(signer->key.get(), as_bytes(documents.qe_identity));
  if (!tcb_signature || !qe_signature) {
    return tcb_signature ? qe_signature.error() : tcb_signature.error();
  }
  documents.tcb_info_signature.assign(tcb_signature->begin(), tcb_signature->end());
  documents.qe_identity_signature.assign(qe_signature->begin(), qe_signature->end());

  pki->pck_chain_pem_ = to_pem(pck->cert.get()) + to_pem(ca->cert.get()) + root_pem;
  pki->root_der_ = tdx::certificate_der(root->cert.get());
  auto collateral = tdx::Collateral::parse(documents);
  if (!collateral) {
    return collateral.error();
  }
  pki->collateral_ = *collateral;
  auto anchors = tdx::TrustAnchors::insecure_test_roots_for_testing({pki->root_der_});
  if (!anchors) {
    return anchors.error();
  }
  pki->anchors_ = *anchors;
  pki->root_ = std::move(root->cert);
  pki->pck_key_ = std::move(pck->key);
  pki->options_ = std::move(options);
  return std::shared_ptr<const MockTdxPki>(std::move(pki));
}

std::string MockTdxPki::root_pem() const {
  return to_pem(root_.get());
}

std::shared_ptr<tdx::StaticCollateralSource> MockTdxPki::collateral_source() const {
  auto source = std::make_shared<tdx::StaticCollateralSource>();
  (void)source->add(collateral_);
  return source;
}

std::shared_ptr<tdx::TdxVerifier> MockTdxPki::make_verifier() const {
  tdx::TdxVerifierOptions options;
  options.trust_anchors = anchors_;
  return std::make_shared<tdx::TdxVerifier>(collateral_source(), options);
}

Outcome<std::array<std::uint8_t, 64>> MockTdxPki::sign_with_pck(ByteView message) const {
  return sign_raw(pck_key_.get(), message);
}

Outcome<void> MockTdxPki::export_to(const std::filesystem::path& directory) const {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  const auto write = [&](const char* name, const std::string& text) {
    std::ofstream out(directory / name, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
  };
  if (ec || !write("mock-root-ca.pem", root_pem()) ||
      !write("mock-collateral.json", tdx::collateral_to_json(documents_))) {
    return Failure{make_error_code(TdxMockErrc::ExportFailed), directory.string()};
  }
  return {};
}

Outcome<ExportedMockTdx> load_exported_mock_tdx(const std::filesystem::path& directory) {
  const auto read = [&](const char* name, std::string& out) {
    std::ifstream in(directory / name, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    out = text.str();
    return static_cast<bool>(in) || !out.empty();
  };
  std::string root_pem;
  std::string collateral_json;
  if (!read("mock-root-ca.pem", root_pem) || !read("mock-collateral.json", collateral_json)) {
    return Failure{make_error_code(TdxMockErrc::ImportFailed), directory.string()};
  }
  auto root = tdx::parse_pem_chain(root_pem, make_error_code(TdxMockErrc::ImportFailed));
  if (!root || root->size() != 1) {
    return Failure{make_error_code(TdxMockErrc::ImportFailed), "mock-root-ca.pem"};
  }
  auto anchors = tdx::TrustAnchors::insecure_test_roots_for_testing(
      {tdx::certificate_der(root->front().get())});
  if (!anchors) {
    return anchors.error();
  }
  auto documents = tdx::collateral_from_json(collateral_json);
  if (!documents) {
    return documents.error();
  }
  auto collateral = tdx::Collateral::parse(std::move(*documents));
  if (!collateral) {
    return collateral.error();
  }
  ExportedMockTdx out;
  out.source = std::make_shared<tdx::StaticCollateralSource>();
  if (auto added = out.source->add(*collateral); !added) {
    return added.error();
  }
  out.anchors = *anchors;
  tdx::TdxVerifierOptions options;
  options.trust_anchors = out.anchors;
  out.verifier = std::make_shared<tdx::TdxVerifier>(out.source, options);
  return out;
}

Outcome<std::shared_ptr<MockTdxAttester>> MockTdxAttester::create(MockTdxPkiPtr pki,
                                                                  MockTdxQuoteOptions options,
                                                                  AttestationType type) {
  const bool shape_ok = (options.version == 4 && options.body_type == tdx::kBodyTypeTdReport10) ||
                        (options.version == 5 && (options.body_type == tdx::kBodyTypeTdReport10 ||
                                                  options.body_type == tdx::kBodyTypeTdReport15));
  if (!pki || !shape_ok) {
    return Failure{make_error_code(TdxMockErrc::InvalidOptions),
                   "version 4 needs body type 2; version 5 body type 2 or 3"};
  }
  std::shared_ptr<MockTdxAttester> attester(new MockTdxAttester());
  auto key = tls::generate_key(tls::KeyAlgorithm::EcP256);
  if (!key) {
    return Failure{make_error_code(TdxMockErrc::KeyGenerationFailed), key.error().describe()};
  }
  auto public_key = raw_public_key(key->get());
  if (!public_key) {
    return public_key.error();
  }
  attester->attestation_public_ = *public_key;
  attester->qe_auth_data_ = sha256_of("ATLS INSECURE MOCK QE auth data");

  // QE report (SGX REPORT_BODY layout, verification.md §1.1): REPORTDATA binds the attestation
  // key and QE auth data (step 10), signed by the PCK key (step 9).
  auto& report = attester->qe_report_;
  const auto& pki_options = pki->options();
  std::memcpy(report.data(), pki_options.sgx_tcb_components.data(), 16);  // CPUSVN
  for (int i = 0; i < 4; ++i) {
    report[0x10 + static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(options.qe_misc_select >> (8 * i));
  }
  report[0x30] = options.qe_attributes0;  // Intel's TD QE: 0x15 (INIT, MODE64BIT, PROVISIONKEY)
  report[0x38] = 0xe7;                    // XFRM
  const auto mr_enclave = sha256_of("ATLS INSECURE MOCK TD QE enclave");
  std::memcpy(report.data() + 0x40, mr_enclave.data(), 32);
  std::memcpy(report.data() + 0x80, pki->qe_mr_signer().data(), 32);
  report[0x100] = static_cast<std::uint8_t>(pki_options.qe_isv_prod_id);
  report[0x101] = static_cast<std::uint8_t>(pki_options.qe_isv_prod_id >> 8);
  report[0x102] = static_cast<std::uint8_t>(options.qe_isv_svn);
  report[0x103] = static_cast<std::uint8_t>(options.qe_isv_svn >> 8);
  Bytes binding(attester->attestation_public_.begin(), attester->attestation_public_.end());
  binding.insert(binding.end(), attester->qe_auth_data_.begin(), attester->qe_auth_data_.end());
  const auto binding_hash = tdx::sha256(binding);
  std::memcpy(report.data() + 0x140, binding_hash.data(), 32);
  auto report_signature = pki->sign_with_pck(report);
  if (!report_signature) {
    return report_signature.error();
  }
  attester->qe_report_signature_ = *report_signature;
  attester->attestation_key_ = std::move(*key);
  attester->pki_ = std::move(pki);
  attester->options_ = options;
  attester->type_ = type;
  return attester;
}

Result<Bytes> MockTdxAttester::generate(const ReportData& report_data) const {
  const auto& o = options_;
  Bytes quote;
  quote.reserve(8000);
  // Header (Quoting Library API A.3.1 / A.4.1).
  put_u16(quote, o.version);
  put_u16(quote, tdx::kAttestationKeyTypeEcdsaP256);
  put_u32(quote, tdx::kTeeTypeTdx);
  put_u32(quote, 0);  // reserved
  put(quote, tdx::kIntelQeVendorId);
  quote.resize(quote.size() + 20);  // user data
  const bool td15 = o.body_type == tdx::kBodyTypeTdReport15;
  if (o.version == 5) {
    put_u16(quote, o.body_type);
    put_u32(quote, static_cast<std::uint32_t>(td15 ? tdx::kTdReport15Size : tdx::kTdReport10Size));
  }
  // TD report body (verification.md §1.1 table).
  put(quote, o.tee_tcb_svn);
  put(quote, o.mr_seam);
  put(quote, o.mr_signer_seam);
  put(quote, o.seam_attributes);
  put(quote, o.td_attributes);
  put(quote, o.xfam);
  put(quote, o.mr_td);
  put(quote, o.mr_config_id);
  put(quote, o.mr_owner);
  put(quote, o.mr_owner_config);
  for (const auto& rtmr : o.rtmr) {
    put(quote, rtmr);
  }
  put(quote, report_data);
  if (td15) {
    put(quote, o.tee_tcb_svn2);
    put(quote, o.mr_servicetd);
  }
  auto signature = sign_raw(attestation_key_.get(), quote);
  if (!signature) {
    return signature.error().code;
  }
  // Signature data (A.3.8): signature, attestation key, QE report certification data (type 6)
  // holding the QE report, its signature, QE auth data and the PEM PCK chain (type 5).
  const std::string& pem = pki_->pck_chain_pem();
  Bytes certification;
  put(certification, qe_report_);
  put(certification, qe_report_signature_);
  put_u16(certification, static_cast<std::uint16_t>(qe_auth_data_.size()));
  put(certification, qe_auth_data_);
  put_u16(certification, tdx::kCertDataPckChain);
  put_u32(certification, static_cast<std::uint32_t>(pem.size()));
  certification.insert(certification.end(), pem.begin(), pem.end());
  Bytes auth;
  put(auth, *signature);
  put(auth, attestation_public_);
  put_u16(auth, tdx::kCertDataQeReport);
  put_u32(auth, static_cast<std::uint32_t>(certification.size()));
  auth.insert(auth.end(), certification.begin(), certification.end());
  put_u32(quote, static_cast<std::uint32_t>(auth.size()));
  quote.insert(quote.end(), auth.begin(), auth.end());
  quote.resize(quote.size() + o.padding);
  return quote;
}

}  // namespace atls::attest::mock
