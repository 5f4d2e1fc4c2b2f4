#include "tls/certificate_builder.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <boost/asio/ip/address.hpp>

#include "tls/errors.h"

namespace atls::tls {
namespace {

Failure keygen_failure(std::string what) {
  return Failure{make_error_code(Errc::KeyGenerationFailed),
                 std::move(what) + ": " + drain_openssl_errors()};
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return false;
  }
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool set_time(ASN1_TIME* field, SystemTime at) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  return ASN1_TIME_set(field, static_cast<time_t>(seconds.count())) != nullptr;
}

}  // namespace

Outcome<EvpPkeyPtr> generate_key(KeyAlgorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::EcP256: key = EVP_EC_gen("P-256"); break;
    case KeyAlgorithm::EcP384: key = EVP_EC_gen("P-384"); break;
    case KeyAlgorithm::Rsa2048: key = EVP_RSA_gen(2048); break;
    case KeyAlgorithm::Rsa4096: key = EVP_RSA_gen(4096); break;
  }
  if (key == nullptr) {
    return keygen_failure("key generation");
  }
  return EvpPkeyPtr(key);
}

Outcome<X509Ptr> issue_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                   EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) {
    return keygen_failure("X509_new");
  }
  X509_set_version(cert.get(), X509_VERSION_3);

  // 16 random bytes, top bit cleared so the INTEGER stays positive (RFC 5280 §4.1.2.2).
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return keygen_failure("serial");
  }
  serial_bytes[0] &= 0x7f;
  std::unique_ptr<BIGNUM, OsslDeleter<BN_free>> serial(
      BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return keygen_failure("serial");
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject);
  if (!set_time(X509_getm_notBefore(cert.get()), spec.not_before) ||
      !set_time(X509_getm_notAfter(cert.get()), spec.not_after) ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return keygen_failure("certificate fields");
  }

  X509* issuer_for_ext = issuer != nullptr ? issuer : cert.get();
  bool ok = add_extension(cert.get(), issuer_for_ext, NID_subject_key_identifier, "hash") &&
            add_extension(cert.get(), issuer_for_ext, NID_authority_key_identifier, "keyid");
  if (spec.is_ca) {
    ok = ok &&
         add_extension(cert.get(), issuer_for_ext, NID_basic_constraints, "critical,CA:TRUE") &&
         add_extension(cert.get(), issuer_for_ext, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_extension(cert.get(), issuer_for_ext, NID_basic_constraints, "CA:FALSE") &&
         add_extension(cert.get(), issuer_for_ext, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string san;
  for (const auto& dns : spec.dns_names) {
    san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  }
  for (const auto& ip : spec.ip_addresses) {
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  if (!san.empty()) {
    ok = ok && add_extension(cert.get(), issuer_for_ext, NID_subject_alt_name, san);
  }
  if (!ok) {
    return keygen_failure("certificate extensions");
  }

  EVP_PKEY* signer = issuer_key != nullptr ? issuer_key : subject_key;
  const EVP_MD* digest = EVP_PKEY_get_bits(signer) == 384 ? EVP_sha384() : EVP_sha256();
  if (X509_sign(cert.get(), signer, digest) == 0) {
    return keygen_failure("signing");
  }
  return cert;
}

Outcome<Credentials> make_self_signed_credentials(const std::string& host, SystemTime now) {
  auto key = generate_key(KeyAlgorithm::EcP256);
  if (!key) {
    return key.error();
  }
  CertificateSpec spec;
  spec.common_name = "atls-proxy self-signed";
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {
    spec.dns_names.push_back(host);
  } else {
    spec.ip_addresses.push_back(host);
  }
  spec.not_before = now - std::chrono::hours(1);
  spec.not_after = now + std::chrono::hours(24 * 365 * 10);
  auto cert = issue_certificate(spec, key->get(), nullptr, nullptr);
  if (!cert) {
    return cert.error();
  }
  Credentials credentials;
  credentials.chain.push_back(std::move(*cert));
  credentials.key = std::move(*key);
  return credentials;
}

std::string private_key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace atls::tls
