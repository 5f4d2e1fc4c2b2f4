#include "attest/tdx/trust.h"

#include <openssl/pem.h>

#include "attest/tdx/errors.h"
#include "attest/tdx/x509_util.h"
#include "core/digest.h"

namespace atls::attest::tdx {
namespace {

// Intel SGX Root CA (production): CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara,
// ST=CA, C=US; ECDSA P-256; 2018-05-21 .. 2049-12-31. Published by Intel at
// https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem
// (verification.md §1.3 step 3 lists the fingerprints checked below).
constexpr std::string_view kIntelRootPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";

Failure pin_failure(std::string what) {
  return Failure{make_error_code(Errc::RootPinMismatch), std::move(what)};
}

}  // namespace

std::string_view intel_root_ca_pem() noexcept {
  return kIntelRootPem;
}

Outcome<std::shared_ptr<const TrustAnchors>> TrustAnchors::intel_production() {
  // Function-local static: initialised once, thread-safe (C++11 magic statics).
  static const Outcome<std::shared_ptr<const TrustAnchors>> kProduction = load_production();
  return kProduction;
}

Outcome<std::shared_ptr<const TrustAnchors>> TrustAnchors::insecure_test_roots_for_testing(
    const std::vector<Bytes>& der_roots) {
  std::shared_ptr<TrustAnchors> out(new TrustAnchors());
  out->insecure_ = true;
  for (const auto& der : der_roots) {
    const unsigned char* p = der.data();
    tls::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != der.data() + der.size()) {
      ERR_clear_error();
      return Failure{make_error_code(Errc::RootNotTrusted), "test root is not one DER certificate"};
    }
    out->anchors_.push_back(Anchor{std::move(cert), der, false});
  }
  if (out->anchors_.empty()) {
    return Failure{make_error_code(Errc::RootNotTrusted), "no test root given"};
  }
  return std::shared_ptr<const TrustAnchors>(std::move(out));
}

const TrustAnchors::Anchor* TrustAnchors::find(X509* cert) const {
  if (cert == nullptr) {
    return nullptr;
  }
  const Bytes der = certificate_der(cert);
  for (const auto& anchor : anchors_) {
    if (anchor.der == der) {
      return &anchor;
    }
  }
  return nullptr;
}

Outcome<std::shared_ptr<const TrustAnchors>> TrustAnchors::load_production() {
  auto chain = parse_pem_chain(kIntelRootPem, make_error_code(Errc::RootPinMismatch));
  if (!chain || chain->size() != 1) {
    return pin_failure("embedded root does not parse");
  }
  tls::X509Ptr cert = std::move(chain->front());
  Bytes der = certificate_der(cert.get());
  if (to_hex(sha256(der)) != kIntelRootCertSha256) {
    return pin_failure("certificate fingerprint differs");
  }
  unsigned char* spki = nullptr;
  const int spki_size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &spki);
  if (spki_size <= 0) {
    return pin_failure("no public key");
  }
  const Sha256 spki_hash = sha256(ByteView(spki, static_cast<std::size_t>(spki_size)));
  OPENSSL_free(spki);
  if (to_hex(spki_hash) != kIntelRootSpkiSha256) {
    return pin_failure("public key fingerprint differs");
  }
  std::shared_ptr<TrustAnchors> out(new TrustAnchors());
  out->anchors_.push_back(Anchor{std::move(cert), std::move(der), true});
  return std::shared_ptr<const TrustAnchors>(std::move(out));
}

}  // namespace atls::attest::tdx
