#include "tls/errors.h"

#include <array>

namespace atls::tls {
namespace {

constexpr std::array kTable{
    errc_row(Errc::FileUnreadable, "file_unreadable", "file cannot be read"),
    errc_row(Errc::NoCertificate, "no_certificate", "no PEM CERTIFICATE block found"),
    errc_row(Errc::InvalidCertificate, "invalid_certificate", "certificate cannot be parsed"),
    errc_row(Errc::NoPrivateKey, "no_private_key",
             "no PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found"),
    errc_row(Errc::EncryptedPrivateKey, "encrypted_private_key",
             "private key is encrypted; provide it unencrypted"),
    errc_row(Errc::InvalidPrivateKey, "invalid_private_key", "private key cannot be parsed"),
    errc_row(Errc::KeyCertificateMismatch, "key_certificate_mismatch",
             "private key does not match the certificate"),
    errc_row(Errc::ContextSetupFailed, "context_setup_failed", "TLS context setup failed"),
    errc_row(Errc::KeyGenerationFailed, "key_generation_failed",
             "generating a self-signed certificate failed"),
    errc_row(Errc::InvalidHostname, "invalid_hostname", "invalid server name for verification"),
};

const NamedCategory kCategory{"tls", kTable};

}  // namespace

const NamedCategory& tls_category() noexcept {
  return kCategory;
}

}  // namespace atls::tls
