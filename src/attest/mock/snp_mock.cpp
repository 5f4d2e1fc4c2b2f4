#include "attest/mock/snp_mock.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <fstream>
#include <mutex>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/little_endian.h"
#include "attest/snp/trust_anchors.h"
#include "core/digest.h"
#include "tls/certificate_builder.h"
#include "tls/credentials.h"
#include "tls/ecdsa.h"

namespace atls::attest::mock {
namespace {

using snp::Errc;
using snp::Product;
using snp::Signer;
using tls::OsslDeleter;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OsslDeleter<ASN1_OBJECT_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, OsslDeleter<ASN1_OCTET_STRING_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OsslDeleter<X509_CRL_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;

Failure mock_failure(std::string what) {
  return Failure{make_error_code(Errc::InternalError),
                 "INSECURE MOCK SNP: " + std::move(what) + ": " + tls::drain_openssl_errors()};
}

// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt: AMD's parameters for every
// certificate of the SEV-SNP PKI (verification.md §2.2).
MdCtxPtr pss_sign_context(EVP_PKEY* key) {
  MdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_context = nullptr;
  if (!context ||
      EVP_DigestSignInit(context.get(), &pkey_context, EVP_sha384(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pkey_context, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_context, 48) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_context, EVP_sha384()) != 1) {
    return nullptr;
  }
  return context;
}

bool set_time(ASN1_TIME* field, SystemTime at) {
  return ASN1_TIME_set(field, static_cast<time_t>(snp::to_unix_seconds(at))) != nullptr;
}

X509_NAME* mock_name(X509_NAME* name, std::string_view common_name) {
  const auto add = [name](const char* field, std::string_view value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  };
  add("OU", "INSECURE MOCK - NOT AMD");
  add("O", "INSECURE MOCK SEV-SNP PKI");
  add("CN", common_name);
  return name;
}

bool add_v3(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) {
    return false;
  }
  const bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

// An AMD extension: the OCTET STRING value holds `der` (verification.md §2.2).
bool add_amd_extension(X509* cert, std::string_view oid, const Bytes& der) {
  Asn1ObjectPtr object(OBJ_txt2obj(std::string(oid).c_str(), 1));
  OctetStringPtr value(ASN1_OCTET_STRING_new());
  if (!object || !value ||
      ASN1_OCTET_STRING_set(value.get(), der.data(), static_cast<int>(der.size())) != 1) {
    return false;
  }
  X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, object.get(), 0, value.get());
  if (extension == nullptr) {
    return false;
  }
  const bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

Bytes der_integer(std::int64_t value) {
  // Minimal two's-complement DER INTEGER for 0..0xffff.
  if (value < 0x80) {
    return {0x02, 0x01, static_cast<std::uint8_t>(value)};
  }
  if (value < 0x100) {
    return {0x02, 0x02, 0x00, static_cast<std::uint8_t>(value)};
  }
  return {0x02, 0x02, static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
}

// Presized and filled in place: vector::insert after a two-byte initializer list trips a
// GCC 12 -O2 -Warray-bounds false positive (release preset).
Bytes der_short_tlv(std::uint8_t tag, const std::uint8_t* data, std::size_t size) {
  Bytes out(2 + size);
  out[0] = tag;
  out[1] = static_cast<std::uint8_t>(size);
  std::copy(data, data + size, out.begin() + 2);
  return out;
}

Bytes der_ia5(std::string_view text) {
  return der_short_tlv(0x16, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

Bytes der_octets(const Bytes& data) {
  return der_short_tlv(0x04, data.data(), data.size());
}

struct CertificateRequest {
  std::string_view common_name;
  EVP_PKEY* subject_key = nullptr;
  X509* issuer = nullptr;  // nullptr: self-signed
  EVP_PKEY* issuer_key = nullptr;
  bool is_ca = false;
  bool rsa_pss = true;
};

Outcome<tls::X509Ptr> make_certificate(const CertificateRequest& request,
                                       const std::vector<std::pair<std::string, Bytes>>& amd) {
  tls::X509Ptr cert(X509_new());
  if (!cert) {
    return mock_failure("X509_new");
  }
  X509_set_version(cert.get(), X509_VERSION_3);
  unsigned char serial_bytes[8];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return mock_failure("serial");
  }
  serial_bytes[0] &= 0x7f;
  BignumPtr serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return mock_failure("serial");
  }
  mock_name(X509_get_subject_name(cert.get()), request.common_name);
  X509* issuer = request.issuer != nullptr ? request.issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      !set_time(X509_getm_notBefore(cert.get()), mock_snp_not_before()) ||
      !set_time(X509_getm_notAfter(cert.get()), mock_snp_not_after()) ||
      X509_set_pubkey(cert.get(), request.subject_key) != 1) {
    return mock_failure("certificate fields");
  }
  bool ok = add_v3(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (request.is_ca) {
    ok = ok && add_v3(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_v3(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  for (const auto& [oid, der] : amd) {
    ok = ok && add_amd_extension(cert.get(), oid, der);
  }
  if (!ok) {
    return mock_failure("extensions");
  }
  EVP_PKEY* signer = request.issuer_key != nullptr ? request.issuer_key : request.subject_key;
  if (!request.rsa_pss) {
    if (X509_sign(cert.get(), signer, EVP_sha384()) <= 0) {
      return mock_failure("RSA PKCS#1 v1.5 signing");
    }
    return cert;
  }
  auto context = pss_sign_context(signer);
  if (!context || X509_sign_ctx(cert.get(), context.get()) <= 0) {
    return mock_failure("RSA-PSS signing");
  }
  return cert;
}

std::string product_name(Product product, Signer kind) {
  // VCEKs carry the stepping ("Milan-B0"), VLEKs and Turin VCEKs the bare product.
  if (kind == Signer::Vlek || product == Product::Turin) {
    return std::string(snp::to_string(product));
  }
  return std::string(snp::to_string(product)) + (product == Product::Milan ? "-B0" : "-B1");
}

snp::Cpuid cpuid_of(Product product) {
  switch (product) {
    case Product::Milan: return {0x19, 0x01, 0x01};
    case Product::Genoa: return {0x19, 0x11, 0x01};
    case Product::Turin: return {0x1A, 0x02, 0x00};
  }
  return {};
}

Bytes hw_id_for(const MockSnpConfig& config) {
  const std::size_t size = config.product == Product::Turin ? 8 : 64;
  return Bytes(config.chip_id.begin(), config.chip_id.begin() + static_cast<std::ptrdiff_t>(size));
}

}  // namespace

SystemTime mock_snp_not_before() noexcept {
  return std::chrono::sys_days(std::chrono::year(2020) / 1 / 1);
}

SystemTime mock_snp_not_after() noexcept {
  return std::chrono::sys_days(std::chrono::year(2049) / 12 / 31);
}

MockSnpPki::MockSnpPki() = default;
MockSnpPki::~MockSnpPki() = default;

Outcome<std::shared_ptr<const MockSnpPki>> MockSnpPki::generate() {
  std::shared_ptr<MockSnpPki> pki(new MockSnpPki());
  for (auto* key : {&pki->ark_key_, &pki->ask_key_, &pki->asvk_key_}) {
    auto generated = tls::generate_key(tls::KeyAlgorithm::Rsa4096);
    if (!generated) {
      return generated.error();
    }
    *key = std::move(*generated);
  }
  auto ark =
      make_certificate({"INSECURE MOCK ARK", pki->ark_key_.get(), nullptr, nullptr, true}, {});
  if (!ark) {
    return ark.error();
  }
  pki->ark_ = std::move(*ark);
  auto ask = make_certificate(
      {"INSECURE MOCK ASK", pki->ask_key_.get(), pki->ark_.get(), pki->ark_key_.get(), true}, {});
  auto asvk = make_certificate(
      {"INSECURE MOCK ASVK", pki->asvk_key_.get(), pki->ark_.get(), pki->ark_key_.get(), true}, {});
  if (!ask) {
    return ask.error();
  }
  if (!asvk) {
    return asvk.error();
  }
  pki->ask_ = std::move(*ask);
  pki->asvk_ = std::move(*asvk);
  pki->ark_der_ = snp::certificate_der(pki->ark_.get());
  pki->ask_der_ = snp::certificate_der(pki->ask_.get());
  pki->asvk_der_ = snp::certificate_der(pki->asvk_.get());
  return std::shared_ptr<const MockSnpPki>(std::move(pki));
}

namespace {

Outcome<void> write_file(const std::filesystem::path& path, const std::string& content,
                         bool secret) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return Failure{make_error_code(boost::system::errc::io_error), "cannot write " + path.string()};
  }
  if (secret) {
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  }
  return Outcome<void>{};
}

}  // namespace

Outcome<void> MockSnpPki::save(const std::filesystem::path& directory) const {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  const std::pair<std::string, std::pair<EVP_PKEY*, X509*>> parts[] = {
      {"snp-ark", {ark_key_.get(), ark_.get()}},
      {"snp-ask", {ask_key_.get(), ask_.get()}},
      {"snp-asvk", {asvk_key_.get(), asvk_.get()}}};
  for (const auto& [name, pair] : parts) {
    if (auto r = write_file(directory / (name + ".key"), tls::private_key_to_pem(pair.first), true);
        !r) {
      return r.error();
    }
    if (auto r = write_file(directory / (name + ".crt"), tls::to_pem(pair.second), false); !r) {
      return r.error();
    }
  }
  return Outcome<void>{};
}

Outcome<std::shared_ptr<const MockSnpPki>> MockSnpPki::load(
    const std::filesystem::path& directory) {
  std::shared_ptr<MockSnpPki> pki(new MockSnpPki());
  const std::pair<std::string, std::pair<tls::EvpPkeyPtr*, tls::X509Ptr*>> parts[] = {
      {"snp-ark", {&pki->ark_key_, &pki->ark_}},
      {"snp-ask", {&pki->ask_key_, &pki->ask_}},
      {"snp-asvk", {&pki->asvk_key_, &pki->asvk_}}};
  for (const auto& [name, pair] : parts) {
    auto key = tls::load_private_key(directory / (name + ".key"));
    if (!key) {
      return key.error();
    }
    auto certs = tls::load_certificates(directory / (name + ".crt"));
    if (!certs) {
      return certs.error();
    }
    *pair.first = std::move(*key);
    *pair.second = std::move(certs->front());
  }
  pki->ark_der_ = snp::certificate_der(pki->ark_.get());
  pki->ask_der_ = snp::certificate_der(pki->ask_.get());
  pki->asvk_der_ = snp::certificate_der(pki->asvk_.get());
  return std::shared_ptr<const MockSnpPki>(std::move(pki));
}

Outcome<std::shared_ptr<const MockSnpPki>> MockSnpPki::shared() {
  static std::mutex mutex;
  static std::shared_ptr<const MockSnpPki> instance;
  std::lock_guard lock(mutex);
  if (!instance) {
    auto generated = generate();
    if (!generated) {
      return generated.error();
    }
    instance = std::move(*generated);
  }
  return instance;
}

std::string MockSnpPki::ark_pem() const {
  tls::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), ark_.get()) != 1) {
    return {};
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

Outcome<MockSnpLeaf> MockSnpPki::issue_leaf(const MockSnpLeafSpec& spec) const {
  auto key = tls::generate_key(spec.key_algorithm);
  if (!key) {
    return key.error();
  }
  const bool turin = spec.product == Product::Turin;
  std::vector<std::pair<std::string, Bytes>> amd = {
      {std::string(snp::amd_oid::kStructVersion), der_integer(turin ? 1 : 0)},
      {std::string(snp::amd_oid::kProductName),
       der_ia5(spec.product_name_override.empty() ? product_name(spec.product, spec.kind)
                                                  : spec.product_name_override)},
      {std::string(snp::amd_oid::kBlSpl), der_integer(spec.tcb.bootloader)},
      {std::string(snp::amd_oid::kTeeSpl), der_integer(spec.tcb.tee)},
      {std::string(snp::amd_oid::kSnpSpl), der_integer(spec.tcb.snp)},
      {std::string(snp::amd_oid::kSpl5), der_integer(0)},
      {std::string(snp::amd_oid::kSpl6), der_integer(0)},
      {std::string(snp::amd_oid::kSpl7), der_integer(0)},
      {std::string(snp::amd_oid::kUcodeSpl), der_integer(spec.tcb.microcode)},
  };
  if (turin) {
    amd.push_back({std::string(snp::amd_oid::kFmcSpl), der_integer(spec.tcb.fmc.value_or(0))});
  } else {
    amd.push_back({std::string(snp::amd_oid::kSpl4), der_integer(0)});
  }
  if (spec.kind == Signer::Vcek) {
    amd.push_back({std::string(snp::amd_oid::kHwId),
                   spec.hw_id_as_octet_string ? der_octets(spec.hw_id) : spec.hw_id});
  } else {
    amd.push_back({std::string(snp::amd_oid::kCspId), der_ia5("CN=insecure-mock-csp.invalid")});
  }
  if (!spec.omit_extension_oid.empty()) {
    std::erase_if(amd,
                  [&spec](const auto& entry) { return entry.first == spec.omit_extension_oid; });
  }
  const bool vcek = spec.kind == Signer::Vcek;
  auto cert = make_certificate({vcek ? "INSECURE MOCK SEV-VCEK" : "INSECURE MOCK SEV-VLEK",
                                key->get(), vcek ? ask_.get() : asvk_.get(),
                                vcek ? ask_key_.get() : asvk_key_.get(), false, spec.rsa_pss},
                               amd);
  if (!cert) {
    return cert.error();
  }
  MockSnpLeaf leaf;
  leaf.key = std::move(*key);
  leaf.der = snp::certificate_der(cert->get());
  return leaf;
}

Outcome<Bytes> MockSnpPki::issue_crl(bool revoked_ask, bool revoked_asvk, SystemTime this_update,
                                     SystemTime next_update) const {
  X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ark_.get())) != 1) {
    return mock_failure("CRL fields");
  }
  std::unique_ptr<ASN1_TIME, OsslDeleter<ASN1_TIME_free>> last(ASN1_TIME_new());
  std::unique_ptr<ASN1_TIME, OsslDeleter<ASN1_TIME_free>> next(ASN1_TIME_new());
  if (!last || !next || !set_time(last.get(), this_update) || !set_time(next.get(), next_update) ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return mock_failure("CRL times");
  }
  for (const auto& [revoke, cert] :
       {std::pair{revoked_ask, ask_.get()}, std::pair{revoked_asvk, asvk_.get()}}) {
    if (!revoke) {
      continue;
    }
    X509_REVOKED* entry = X509_REVOKED_new();
    if (entry == nullptr ||
        X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(cert)) != 1 ||
        X509_REVOKED_set_revocationDate(entry, last.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return mock_failure("CRL entry");
    }
  }
  X509_CRL_sort(crl.get());
  auto context = pss_sign_context(ark_key_.get());
  if (!context || X509_CRL_sign_ctx(crl.get(), context.get()) <= 0) {
    return mock_failure("CRL signing");
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  if (length <= 0) {
    return mock_failure("CRL encoding");
  }
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

snp::SnpVerifierOptions MockSnpPki::insecure_verifier_options() const {
  snp::SnpVerifierOptions options;
  options.trust_insecure_test_anchors_for_testing =
      snp::InsecureTestAnchors{ark_der_, ask_der_, asvk_der_};
  return options;
}

MockSnpAttester::MockSnpAttester(std::shared_ptr<const MockSnpPki> pki, MockSnpConfig config,
                                 MockSnpLeaf leaf)
    : pki_(std::move(pki)), config_(config), leaf_(std::move(leaf)) {}

Outcome<std::shared_ptr<MockSnpAttester>> MockSnpAttester::create(
    std::shared_ptr<const MockSnpPki> pki, MockSnpConfig config) {
  if (!pki) {
    return Failure{make_error_code(Errc::InternalError), "INSECURE MOCK SNP: no PKI"};
  }
  if (config.report_version != 2 && config.report_version != 3 && config.report_version != 5) {
    return Failure{make_error_code(Errc::UnsupportedReportVersion),
                   "INSECURE MOCK SNP: report_version must be 2, 3 or 5"};
  }
  if (config.signer == Signer::Vlek || config.mask_chip_id) {
    config.chip_id.fill(0);
  }
  MockSnpLeafSpec spec;
  spec.product = config.product;
  spec.kind = config.signer;
  spec.hw_id = hw_id_for(config);
  spec.tcb = config.tcb;
  spec.hw_id_as_octet_string = config.hw_id_as_octet_string;
  if (config.mask_chip_id) {
    spec.hw_id = Bytes(config.product == Product::Turin ? 8 : 64, 0xc1);
  }
  auto leaf = pki->issue_leaf(spec);
  if (!leaf) {
    return leaf.error();
  }
  return std::make_shared<MockSnpAttester>(std::move(pki), config, std::move(*leaf));
}

Result<Bytes> MockSnpAttester::generate_report(const ReportData& report_data) const {
  using snp::detail::store_le32;
  using snp::detail::store_le64;
  const MockSnpConfig& c = config_;
  Bytes report(snp::kReportSize, 0);
  std::uint8_t* r = report.data();
  const auto put = [r](std::size_t offset, const auto& bytes) {
    std::copy(bytes.begin(), bytes.end(), r + offset);
  };
  // SEV-SNP ABI spec table "ATTESTATION_REPORT Structure" (verification.md §2.1).
  const std::uint64_t tcb = snp::encode_tcb(c.tcb, c.product);
  store_le32(r + 0x000, c.report_version);
  store_le32(r + 0x004, c.guest_svn);
  store_le64(r + 0x008, c.policy);
  put(0x010, c.family_id);
  put(0x020, c.image_id);
  store_le32(r + 0x030, c.vmpl);
  store_le32(r + 0x034, 1);  // ECDSA P-384 with SHA-384
  store_le64(r + 0x038, tcb);
  store_le64(r + 0x040, c.platform_info);
  const std::uint32_t signing_key = c.signer == Signer::Vcek ? 0 : 1;
  store_le32(r + 0x048, (signing_key << 2) | (c.mask_chip_id ? 2U : 0U));
  put(0x050, report_data);
  put(0x090, c.measurement);
  put(0x0C0, c.host_data);
  put(0x0E0, c.id_key_digest);
  put(0x110, c.author_key_digest);
  const auto report_id = atls::sha256(report_data);
  put(0x140, report_id);
  std::fill(r + 0x160, r + 0x180, 0xff);  // REPORT_ID_MA: no migration agent
  store_le64(r + 0x180, tcb);
  if (c.report_version >= 3) {
    const snp::Cpuid cpuid = cpuid_of(c.product);
    r[0x188] = cpuid.family;
    r[0x189] = cpuid.model;
    r[0x18A] = cpuid.stepping;
  }
  put(0x1A0, c.chip_id);
  store_le64(r + 0x1E0, tcb);
  for (const std::size_t offset : {0x1E8UL, 0x1ECUL}) {
    r[offset] = c.firmware.build;
    r[offset + 1] = c.firmware.minor;
    r[offset + 2] = c.firmware.major;
  }
  store_le64(r + 0x1F0, tcb);
  if (c.report_version >= 5) {
    store_le64(r + 0x1F8, 0x3);
    store_le64(r + 0x200, 0x7);
  }

  // Sign bytes [0, 0x2A0) and store R and S little-endian in 72-byte fields.
  MdCtxPtr context(EVP_MD_CTX_new());
  std::size_t der_length = 0;
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha384(), nullptr, leaf_.key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &der_length, r, snp::kSignedSize) != 1) {
    ERR_clear_error();
    return make_error_code(Errc::InternalError);
  }
  Bytes der(der_length);
  if (EVP_DigestSign(context.get(), der.data(), &der_length, r, snp::kSignedSize) != 1) {
    ERR_clear_error();
    return make_error_code(Errc::InternalError);
  }
  der.resize(der_length);
  // R and S are little-endian fields (SEV-SNP ABI "Signature Format"): the big-endian raw
  // components, reversed, in the low bytes; the rest of each field stays zero.
  Bytes raw = tls::ecdsa_raw_from_der(der, snp::kSignatureComponentSize);
  if (raw.empty()) {
    return make_error_code(Errc::InternalError);
  }
  const auto half = static_cast<std::ptrdiff_t>(snp::kSignatureComponentSize);
  std::reverse(raw.begin(), raw.begin() + half);
  std::reverse(raw.begin() + half, raw.end());
  std::copy(raw.begin(), raw.begin() + half, r + 0x2A0);
  std::copy(raw.begin() + half, raw.end(), r + 0x2E8);
  return report;
}

Result<Bytes> MockSnpAttester::generate(const ReportData& report_data) const {
  auto report = generate_report(report_data);
  if (!report) {
    return report.error();
  }
  snp::CertTable table;
  if (config_.include_leaf) {
    table.entries.push_back(
        {config_.signer == Signer::Vcek ? snp::guids::vcek() : snp::guids::vlek(), leaf_.der});
  }
  if (config_.include_intermediate) {
    table.entries.push_back(
        {snp::guids::ask(), config_.signer == Signer::Vcek ? pki_->ask_der() : pki_->asvk_der()});
  }
  if (config_.include_ark) {
    table.entries.push_back({snp::guids::ark(), pki_->ark_der()});
  }
  return snp::encode_evidence(*report, table);
}

std::shared_ptr<const snp::SnpVerifier> make_insecure_mock_snp_verifier(
    const MockSnpPki& pki, snp::CertificateSourcePtr source) {
  return std::make_shared<const snp::SnpVerifier>(std::move(source),
                                                  pki.insecure_verifier_options());
}

Outcome<std::shared_ptr<const snp::SnpVerifier>> make_insecure_mock_snp_verifier(
    std::string_view ark_pem, snp::CertificateSourcePtr source) {
  auto certs = snp::parse_certificates_pem(ark_pem);
  if (!certs || certs->size() != 1) {
    return Failure{make_error_code(Errc::TrustAnchorInvalid),
                   "expected exactly one PEM certificate (the INSECURE MOCK ARK)"};
  }
  const Bytes ark_der = snp::certificate_der(certs->front().get());
  auto checked = snp::TrustAnchors::insecure_for_testing(ark_der, {}, {});
  if (!checked) {
    return checked.error();
  }
  snp::SnpVerifierOptions options;
  options.trust_insecure_test_anchors_for_testing = snp::InsecureTestAnchors{ark_der, {}, {}};
  return std::make_shared<const snp::SnpVerifier>(std::move(source), std::move(options));
}

}  // namespace atls::attest::mock
