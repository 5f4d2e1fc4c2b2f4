#pragma once

#include "core/error.h"

namespace atls::tls {

enum class Errc {
  FileUnreadable = 1,
  NoCertificate,
  InvalidCertificate,
  NoPrivateKey,
  EncryptedPrivateKey,
  InvalidPrivateKey,
  KeyCertificateMismatch,
  ContextSetupFailed,
  KeyGenerationFailed,
  InvalidHostname,
};

ATLS_DECLARE_ERRC(Errc, tls_category)

}  // namespace atls::tls

ATLS_REGISTER_ERRC(atls::tls::Errc);
