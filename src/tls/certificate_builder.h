#pragma once
// Key generation and X.509 issuance. Used for the server's ephemeral self-signed certificate
// (interop spec §1.3) and for PKIs minted at run time (mock TEE, tests).

#include <chrono>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "tls/credentials.h"
#include "tls/ossl.h"

namespace atls::tls {

enum class KeyAlgorithm { EcP256, EcP384, Rsa2048, Rsa4096 };

Outcome<EvpPkeyPtr> generate_key(KeyAlgorithm algorithm);

struct CertificateSpec {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  ///< textual IPv4/IPv6
  bool is_ca = false;
  SystemTime not_before;
  SystemTime not_after;
};

/// Issues a certificate for `subject_key`. With `issuer == nullptr` it is self-signed with
/// `subject_key`; otherwise signed by `issuer_key` under `issuer`'s subject name.
/// Digest: SHA-256 (SHA-384 for P-384 issuers).
Outcome<X509Ptr> issue_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                   EVP_PKEY* issuer_key);

/// An ephemeral ECDSA P-256 self-signed certificate whose SAN is `host` (IP address or DNS
/// name), valid from one hour ago for ten years.
Outcome<Credentials> make_self_signed_credentials(const std::string& host, SystemTime now);

/// PKCS#8 PEM of a private key.
std::string private_key_to_pem(EVP_PKEY* key);

}  // namespace atls::tls
