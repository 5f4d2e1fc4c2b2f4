#include "attest/mock/tdx_mock.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attest/tdx/x509_util.h"
#include "core/digest.h"
#include "core/file_write.h"
#include "core/json.h"
#include "tls/certificate_builder.h"
#include "tls/credentials.h"
#include "tls/ecdsa.h"

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
  return atls::sha256(as_bytes(text));
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
  signature.resize(size);
  const Bytes raw = tls::ecdsa_raw_from_der(signature, 32);
  if (raw.size() != 64) {
    return mock_failure(TdxMockErrc::SigningFailed, "ECDSA signature encoding");
  }
  std::array<std::uint8_t, 64> out{};
  std::copy(raw.begin(), raw.end(), out.begin());
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

Outcome<Bytes> make_crl(X509* issuer_cert, EVP_PKEY* issuer_key, SystemTime this_update,
                        SystemTime next_update, X509* revoked) {
  tdx::X509CrlPtr crl(X509_CRL_new());
  std::unique_ptr<ASN1_TIME, tls::OsslDeleter<ASN1_TIME_free>> last(ASN1_TIME_new());
  std::unique_ptr<ASN1_TIME, tls::OsslDeleter<ASN1_TIME_free>> next(ASN1_TIME_new());
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer_cert)) != 1 ||
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
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) == 0) {
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
  pki->qe_mr_signer_ = sha256_of("ATLS INSECURE MOCK TD QE signer");
  tdx::CollateralDocuments& documents = pki->documents_;
  const std::string root_pem = to_pem(root->cert.get());
  documents.pck_crl_issuer_chain = to_pem(ca->cert.get()) + root_pem;
  documents.tcb_info_issuer_chain = to_pem(signer->cert.get()) + root_pem;
  documents.qe_identity_issuer_chain = documents.tcb_info_issuer_chain;
  documents.tcb_info = tcb_info_json(options, issued, issued + options.document_lifetime);
  documents.qe_identity =
      qe_identity_json(options, pki->qe_mr_signer_, issued, issued + options.document_lifetime);
  pki->root_ = std::move(root->cert);
  pki->root_key_ = std::move(root->key);
  pki->ca_ = std::move(ca->cert);
  pki->ca_key_ = std::move(ca->key);
  pki->pck_ = std::move(pck->cert);
  pki->pck_key_ = std::move(pck->key);
  pki->signer_ = std::move(signer->cert);
  pki->signer_key_ = std::move(signer->key);
  pki->options_ = std::move(options);
  MockTdxCollateralDates dates;
  dates.issued = issued;
  dates.document_lifetime = pki->options_.document_lifetime;
  dates.crl_lifetime = pki->options_.crl_lifetime;
  auto signed_documents = pki->issue_collateral(dates);
  if (!signed_documents) {
    return signed_documents.error();
  }
  pki->documents_ = std::move(*signed_documents);
  if (auto finished = pki->finish(); !finished) {
    return finished.error();
  }
  return std::shared_ptr<const MockTdxPki>(std::move(pki));
}

Outcome<void> MockTdxPki::finish() {
  pck_chain_pem_ = to_pem(pck_.get()) + to_pem(ca_.get()) + to_pem(root_.get());
  root_der_ = tdx::certificate_der(root_.get());
  auto collateral = tdx::Collateral::parse(documents_);
  if (!collateral) {
    return collateral.error();
  }
  collateral_ = *collateral;
  auto anchors = tdx::TrustAnchors::insecure_test_roots_for_testing({root_der_});
  if (!anchors) {
    return anchors.error();
  }
  anchors_ = *anchors;
  return {};
}

Outcome<tdx::CollateralDocuments> MockTdxPki::issue_collateral(
    const MockTdxCollateralDates& dates) const {
  tdx::CollateralDocuments documents = documents_;
  // Re-date the signed documents (Intel PCS v4 data model: issueDate / nextUpdate, RFC 3339).
  for (std::string* text : {&documents.tcb_info, &documents.qe_identity}) {
    auto document = ordered_json::parse(*text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) {
      return mock_failure(TdxMockErrc::SigningFailed, "collateral document");
    }
    document["issueDate"] = tdx::format_rfc3339(dates.issued);
    document["nextUpdate"] = tdx::format_rfc3339(dates.issued + dates.document_lifetime);
    if (dates.tcb_evaluation_data_number) {
      document["tcbEvaluationDataNumber"] = *dates.tcb_evaluation_data_number;
    }
    *text = document.dump();
  }
  auto root_crl =
      make_crl(root_.get(), root_key_.get(), dates.issued, dates.issued + dates.root_crl_lifetime,
               options_.revoke_pck_ca ? ca_.get() : nullptr);
  if (!root_crl) {
    return root_crl.error();
  }
  auto pck_crl = make_crl(ca_.get(), ca_key_.get(), dates.issued, dates.issued + dates.crl_lifetime,
                          options_.revoke_pck ? pck_.get() : nullptr);
  if (!pck_crl) {
    return pck_crl.error();
  }
  documents.root_ca_crl = std::move(*root_crl);
  documents.pck_crl = std::move(*pck_crl);
  auto tcb_signature = sign_raw(signer_key_.get(), as_bytes(documents.tcb_info));
  auto qe_signature = sign_raw(signer_key_.get(), as_bytes(documents.qe_identity));
  if (!tcb_signature || !qe_signature) {
    return tcb_signature ? qe_signature.error() : tcb_signature.error();
  }
  documents.tcb_info_signature.assign(tcb_signature->begin(), tcb_signature->end());
  documents.qe_identity_signature.assign(qe_signature->begin(), qe_signature->end());
  return documents;
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

namespace {

Failure import_failed(const std::filesystem::path& path, std::string_view what = {}) {
  return Failure{make_error_code(TdxMockErrc::ImportFailed),
                 path.string() + (what.empty() ? "" : ": " + std::string(what))};
}

Failure export_failed(const std::filesystem::path& path) {
  return Failure{make_error_code(TdxMockErrc::ExportFailed),
                 path.string() + ": " + std::strerror(errno)};
}

Outcome<std::string> read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return import_failed(path, "cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Writes a file created with its final mode (a key is never readable by others, not even
/// briefly); an existing file is replaced.
Outcome<void> write_mode_file(const std::filesystem::path& path, std::string_view content,
                              mode_t mode) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!write_new_file(path, content, mode)) {
    return export_failed(path);
  }
  return {};
}

/// A verifier from a root certificate file and a dcap-qvl collateral file.
Outcome<ExportedMockTdx> verifier_from_files(const std::filesystem::path& root_path,
                                             const std::filesystem::path& collateral_path) {
  auto root_pem = read_text_file(root_path);
  if (!root_pem) {
    return root_pem.error();
  }
  auto collateral_json = read_text_file(collateral_path);
  if (!collateral_json) {
    return collateral_json.error();
  }
  auto root = tdx::parse_pem_chain(*root_pem, make_error_code(TdxMockErrc::ImportFailed));
  if (!root || root->size() != 1) {
    return import_failed(root_path, "not one PEM certificate");
  }
  auto anchors = tdx::TrustAnchors::insecure_test_roots_for_testing(
      {tdx::certificate_der(root->front().get())});
  if (!anchors) {
    return anchors.error();
  }
  auto documents = tdx::collateral_from_json(*collateral_json);
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

constexpr const char* kSavedParts[] = {"tdx-root", "tdx-pck-ca", "tdx-pck", "tdx-tcb-signer"};

}  // namespace

Outcome<ExportedMockTdx> load_exported_mock_tdx(const std::filesystem::path& directory) {
  return verifier_from_files(directory / "mock-root-ca.pem", directory / "mock-collateral.json");
}

Outcome<ExportedMockTdx> load_mock_tdx_verifier(const std::filesystem::path& directory) {
  return verifier_from_files(directory / "tdx-root.crt", directory / "tdx-collateral.json");
}

Outcome<void> MockTdxPki::save(const std::filesystem::path& directory) const {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    return Failure{make_error_code(TdxMockErrc::ExportFailed),
                   directory.string() + ": " + ec.message()};
  }
  const std::pair<EVP_PKEY*, X509*> parts[] = {{root_key_.get(), root_.get()},
                                               {ca_key_.get(), ca_.get()},
                                               {pck_key_.get(), pck_.get()},
                                               {signer_key_.get(), signer_.get()}};
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    const std::string name = kSavedParts[i];
    if (auto r = write_mode_file(directory / (name + ".key"),
                                 tls::private_key_to_pem(parts[i].first), 0600);
        !r) {
      return r.error();
    }
    if (auto r = write_mode_file(directory / (name + ".crt"), to_pem(parts[i].second), 0644); !r) {
      return r.error();
    }
  }
  ordered_json pki;
  pki["fmspc"] = to_hex(options_.fmspc);
  pki["ca_type"] = std::string(tdx::to_string(options_.ca_type));
  pki["pce_id"] = to_hex(options_.pce_id);
  pki["sgx_tcb_components"] = to_hex(options_.sgx_tcb_components);
  pki["pce_svn"] = options_.pce_svn;
  pki["qe_isv_prod_id"] = options_.qe_isv_prod_id;
  pki["qe_mr_signer"] = to_hex(qe_mr_signer_);
  pki["revoke_pck"] = options_.revoke_pck;
  pki["revoke_pck_ca"] = options_.revoke_pck_ca;
  if (auto r = write_mode_file(directory / "tdx-pki.json", pki.dump(2) + "\n", 0644); !r) {
    return r.error();
  }
  return write_mode_file(directory / "tdx-collateral.json",
                         tdx::collateral_to_json(documents_) + "\n", 0644);
}

Outcome<std::shared_ptr<const MockTdxPki>> MockTdxPki::load(
    const std::filesystem::path& directory) {
  std::shared_ptr<MockTdxPki> pki(new MockTdxPki());
  const std::pair<tls::EvpPkeyPtr*, tls::X509Ptr*> parts[] = {{&pki->root_key_, &pki->root_},
                                                              {&pki->ca_key_, &pki->ca_},
                                                              {&pki->pck_key_, &pki->pck_},
                                                              {&pki->signer_key_, &pki->signer_}};
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    const std::string name = kSavedParts[i];
    auto key = tls::load_private_key(directory / (name + ".key"));
    if (!key) {
      return import_failed(directory / (name + ".key"), key.error().describe());
    }
    auto certs = tls::load_certificates(directory / (name + ".crt"));
    if (!certs || certs->size() != 1) {
      return import_failed(directory / (name + ".crt"), "not one PEM certificate");
    }
    *parts[i].first = std::move(*key);
    *parts[i].second = std::move(certs->front());
  }
  const auto pki_path = directory / "tdx-pki.json";
  auto pki_text = read_text_file(pki_path);
  if (!pki_text) {
    return pki_text.error();
  }
  auto pki_json = parse_json_strict(*pki_text, 4);
  if (!pki_json || !pki_json->is_object()) {
    return import_failed(pki_path, pki_json ? "not a JSON object" : pki_json.error().describe());
  }
  const auto hex_field = [&](const char* name, auto& out) -> bool {
    const auto it = pki_json->find(name);
    if (it == pki_json->end() || !it->is_string()) {
      return false;
    }
    auto bytes = from_hex(it->template get<std::string>());
    if (!bytes || bytes->size() != out.size()) {
      return false;
    }
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return true;
  };
  const auto uint_field = [&](const char* name, std::uint16_t& out) -> bool {
    const auto it = pki_json->find(name);
    if (it == pki_json->end() || !it->is_number_unsigned() ||
        it->template get<std::uint64_t>() > 0xffff) {
      return false;
    }
    out = static_cast<std::uint16_t>(it->template get<std::uint64_t>());
    return true;
  };
  const auto bool_field = [&](const char* name, bool& out) -> bool {
    const auto it = pki_json->find(name);
    if (it == pki_json->end() || !it->is_boolean()) {
      return false;
    }
    out = it->template get<bool>();
    return true;
  };
  MockTdxPkiOptions& options = pki->options_;
  const auto ca_it = pki_json->find("ca_type");
  const bool ca_ok = ca_it != pki_json->end() && ca_it->is_string() &&
                     (*ca_it == "platform" || *ca_it == "processor");
  if (!ca_ok || !hex_field("fmspc", options.fmspc) || !hex_field("pce_id", options.pce_id) ||
      !hex_field("sgx_tcb_components", options.sgx_tcb_components) ||
      !hex_field("qe_mr_signer", pki->qe_mr_signer_) || !uint_field("pce_svn", options.pce_svn) ||
      !uint_field("qe_isv_prod_id", options.qe_isv_prod_id) ||
      !bool_field("revoke_pck", options.revoke_pck) ||
      !bool_field("revoke_pck_ca", options.revoke_pck_ca)) {
    return import_failed(pki_path, "missing or malformed field");
  }
  options.ca_type = *ca_it == "platform" ? tdx::PckCaType::Platform : tdx::PckCaType::Processor;
  const auto collateral_path = directory / "tdx-collateral.json";
  auto collateral_text = read_text_file(collateral_path);
  if (!collateral_text) {
    return collateral_text.error();
  }
  auto documents = tdx::collateral_from_json(*collateral_text);
  if (!documents) {
    return documents.error();
  }
  pki->documents_ = std::move(*documents);
  if (auto finished = pki->finish(); !finished) {
    return finished.error();
  }
  return std::shared_ptr<const MockTdxPki>(std::move(pki));
}

Outcome<void> apply_mock_tdx_measurements(std::string_view json_text,
                                          MockTdxQuoteOptions& options) {
  const auto invalid = [](std::string detail) {
    return Failure{make_error_code(TdxMockErrc::InvalidOptions), std::move(detail)};
  };
  auto document = parse_json_strict(json_text, 4);
  if (!document) {
    return invalid(document.error().describe());
  }
  if (!document->is_object()) {
    return invalid("measurements are not a JSON object");
  }
  MockTdxQuoteOptions updated = options;
  for (const auto& [name, value] : document->items()) {
    tdx::Measurement* target = nullptr;
    if (name == "mrtd") {
      target = &updated.mr_td;
    } else if (name.size() == 5 && name.rfind("rtmr", 0) == 0 && name[4] >= '0' && name[4] <= '3') {
      target = &updated.rtmr[static_cast<std::size_t>(name[4] - '0')];
    } else {
      return invalid("unknown member \"" + name + "\" (expected mrtd, rtmr0..rtmr3)");
    }
    auto bytes = value.is_string() ? from_hex(value.get<std::string>()) : std::nullopt;
    if (!bytes || bytes->size() != target->size()) {
      return invalid("\"" + name + "\" is not 48 bytes of hex");
    }
    std::copy(bytes->begin(), bytes->end(), target->begin());
  }
  options = updated;
  return {};
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
  const auto binding_hash = atls::sha256(binding);
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
