#pragma once
// Certificates and private keys from PEM files (interop spec §1.3).

#include <filesystem>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tls/ossl.h"

namespace atls::tls {

/// A certificate chain (leaf first) and the leaf's private key.
struct Credentials {
  std::vector<X509Ptr> chain;
  EvpPkeyPtr key;
};

/// Every CERTIFICATE block of `pem`, in order. Other block types are skipped.
/// Errors: NoCertificate, InvalidCertificate.
Outcome<std::vector<X509Ptr>> parse_certificates(std::string_view pem);

/// The first private-key block of `pem`: "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY" (PKCS#1) or
/// "EC PRIVATE KEY" (SEC1). Other block types are skipped, so a combined key+cert file works.
/// Errors: NoPrivateKey, EncryptedPrivateKey, InvalidPrivateKey.
Outcome<EvpPkeyPtr> parse_private_key(std::string_view pem);

/// File variants; the failure detail names the file.
Outcome<std::vector<X509Ptr>> load_certificates(const std::filesystem::path& path);
Outcome<EvpPkeyPtr> load_private_key(const std::filesystem::path& path);

/// Loads a chain and its key and checks that they belong together (KeyCertificateMismatch).
Outcome<Credentials> load_credentials(const std::filesystem::path& certificate_path,
                                      const std::filesystem::path& key_path);

/// PEM text of `cert` (with trailing newline).
std::string to_pem(X509* cert);

}  // namespace atls::tls
