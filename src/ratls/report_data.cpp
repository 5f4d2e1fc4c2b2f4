#include "ratls/report_data.h"

#include <openssl/x509.h>

#include <algorithm>
#include <string_view>

#include "core/digest.h"
#include "ratls/errors.h"

namespace atls::ratls {

Digest32 public_key_hash(const X509* cert) {
  Digest32 out{};
  if (cert == nullptr) {
    return out;
  }
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
  if (bits == nullptr) {
    return out;
  }
  return sha256(
      ByteView(ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits))));
}

Result<Digest32> export_channel_binding(SSL* ssl) {
  static constexpr std::string_view kLabel = "EXPORTER-Channel-Binding";
  Digest32 out{};
  if (SSL_export_keying_material(ssl, out.data(), out.size(), kLabel.data(), kLabel.size(), nullptr,
                                 0, 0) != 1) {
    return make_error_code(Errc::ExporterFailed);
  }
  return out;
}

attest::ReportData make_report_data(const Digest32& key_hash, const Digest32& exporter) {
  attest::ReportData out{};
  std::copy(key_hash.begin(), key_hash.end(), out.begin());
  std::copy(exporter.begin(), exporter.end(), out.begin() + 32);
  return out;
}

}  // namespace atls::ratls
