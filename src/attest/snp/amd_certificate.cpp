#include "attest/snp/amd_certificate.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <ctime>

#include "attest/snp/errors.h"
#include "core/digest.h"

namespace atls::attest::snp {
namespace {

using tls::OsslDeleter;
using Asn1IntegerOwner = std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER_free>>;
using Ia5StringOwner = std::unique_ptr<ASN1_IA5STRING, OsslDeleter<ASN1_IA5STRING_free>>;
using OctetStringOwner = std::unique_ptr<ASN1_OCTET_STRING, OsslDeleter<ASN1_OCTET_STRING_free>>;

constexpr std::string_view kAmdArc = "1.3.6.1.4.1.3704.1.";
constexpr std::size_t kHwIdSize = 64;
constexpr std::size_t kTurinHwIdSize = 8;

ErrorCode malformed() {
  return make_error_code(Errc::CertificateExtensionMalformed);
}

// The extension value is an OCTET STRING whose content is itself DER (INTEGER, IA5String) —
// except hwID, which KDS first issued as raw bytes.
ByteView content_of(X509_EXTENSION* extension) {
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(extension);
  if (value == nullptr) {
    return {};
  }
  return ByteView(ASN1_STRING_get0_data(value),
                  static_cast<std::size_t>(ASN1_STRING_length(value)));
}

Result<std::int64_t> der_integer(ByteView der) {
  const unsigned char* cursor = der.data();
  Asn1IntegerOwner integer(d2i_ASN1_INTEGER(nullptr, &cursor, static_cast<long>(der.size())));
  if (!integer || cursor != der.data() + der.size()) {
    return malformed();
  }
  std::int64_t value = 0;
  if (ASN1_INTEGER_get_int64(&value, integer.get()) != 1) {
    return malformed();
  }
  return value;
}

Result<std::uint8_t> der_spl(ByteView der) {
  auto value = der_integer(der);
  if (!value) {
    return value.error();
  }
  // SPLs are the bytes of a TCB_VERSION.
  if (*value < 0 || *value > 255) {
    return malformed();
  }
  return static_cast<std::uint8_t>(*value);
}

Result<std::string> der_ia5(ByteView der) {
  const unsigned char* cursor = der.data();
  Ia5StringOwner text(d2i_ASN1_IA5STRING(nullptr, &cursor, static_cast<long>(der.size())));
  if (!text || cursor != der.data() + der.size()) {
    return malformed();
  }
  const auto* data = ASN1_STRING_get0_data(text.get());
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<std::size_t>(ASN1_STRING_length(text.get())));
}

Result<Bytes> hw_id_of(ByteView content) {
  // Raw form: exactly the hwID bytes. DER form: 04 40 <64 bytes> (or 04 08 <8 bytes>). The
  // lengths differ, so the two forms cannot be confused.
  if (content.size() == kHwIdSize || content.size() == kTurinHwIdSize) {
    return Bytes(content.begin(), content.end());
  }
  const unsigned char* cursor = content.data();
  OctetStringOwner octets(
      d2i_ASN1_OCTET_STRING(nullptr, &cursor, static_cast<long>(content.size())));
  if (!octets || cursor != content.data() + content.size()) {
    return malformed();
  }
  const auto size = static_cast<std::size_t>(ASN1_STRING_length(octets.get()));
  if (size != kHwIdSize && size != kTurinHwIdSize) {
    return malformed();
  }
  const auto* data = ASN1_STRING_get0_data(octets.get());
  return Bytes(data, data + size);
}

template <class T>
Result<void> store_once(std::optional<T>& field, Result<T> value) {
  if (!value) {
    return value.error();
  }
  if (field.has_value()) {
    return malformed();  // the same AMD extension twice
  }
  field = std::move(*value);
  return {};
}

Result<void> apply_extension(AmdExtensions& out, std::string_view oid, ByteView content) {
  if (oid == amd_oid::kStructVersion) {
    return store_once(out.struct_version, der_integer(content));
  }
  if (oid == amd_oid::kProductName) {
    return store_once(out.product_name, der_ia5(content));
  }
  if (oid == amd_oid::kHwId) {
    return store_once(out.hw_id, hw_id_of(content));
  }
  if (oid == amd_oid::kCspId) {
    return store_once(out.csp_id, der_ia5(content));
  }
  struct SplField {
    std::string_view oid;
    std::optional<std::uint8_t> AmdExtensions::*field;
  };
  static constexpr SplField kSpls[] = {
      {amd_oid::kBlSpl, &AmdExtensions::bl_spl},   {amd_oid::kTeeSpl, &AmdExtensions::tee_spl},
      {amd_oid::kSnpSpl, &AmdExtensions::snp_spl}, {amd_oid::kSpl4, &AmdExtensions::spl4},
      {amd_oid::kSpl5, &AmdExtensions::spl5},      {amd_oid::kSpl6, &AmdExtensions::spl6},
      {amd_oid::kSpl7, &AmdExtensions::spl7},      {amd_oid::kUcodeSpl, &AmdExtensions::ucode_spl},
      {amd_oid::kFmcSpl, &AmdExtensions::fmc_spl},
  };
  for (const auto& spl : kSpls) {
    if (oid == spl.oid) {
      return store_once(out.*spl.field, der_spl(content));
    }
  }
  return {};  // unknown AMD extension: ignored
}

std::int64_t asn1_time_to_unix(const ASN1_TIME* time, bool& ok) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    ok = false;
    return 0;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

Result<AmdExtensions> parse_amd_extensions(const X509* cert) {
  AmdExtensions out;
  const int count = X509_get_ext_count(cert);
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* extension = X509_get_ext(cert, i);
    if (extension == nullptr) {
      continue;
    }
    char oid_text[80];
    const int length =
        OBJ_obj2txt(oid_text, sizeof(oid_text), X509_EXTENSION_get_object(extension), 1);
    if (length <= 0 || static_cast<std::size_t>(length) >= sizeof(oid_text)) {
      continue;  // not an AMD OID (those are short)
    }
    const std::string_view oid(oid_text, static_cast<std::size_t>(length));
    if (!oid.starts_with(kAmdArc)) {
      continue;
    }
    auto applied = apply_extension(out, oid, content_of(extension));
    if (!applied) {
      return applied.error();
    }
  }
  return out;
}

Result<tls::X509Ptr> parse_certificate_der(ByteView der) {
  const unsigned char* cursor = der.data();
  tls::X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!cert || cursor != der.data() + der.size()) {
    return make_error_code(Errc::CertificateMalformed);
  }
  return cert;
}

Result<std::vector<tls::X509Ptr>> parse_certificates_pem(std::string_view pem) {
  tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return make_error_code(Errc::InternalError);
  }
  std::vector<tls::X509Ptr> certs;
  for (;;) {
    tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      break;
    }
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // the final read fails with "no start line" by design
  if (certs.empty()) {
    return make_error_code(Errc::CertificateMalformed);
  }
  return certs;
}

Bytes certificate_der(const X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) {
    return {};
  }
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

std::optional<Validity> certificate_validity(const X509* cert) {
  bool ok = true;
  Validity validity;
  validity.not_before = asn1_time_to_unix(X509_get0_notBefore(cert), ok);
  validity.not_after = asn1_time_to_unix(X509_get0_notAfter(cert), ok);
  if (!ok) {
    return std::nullopt;
  }
  return validity;
}

std::int64_t to_unix_seconds(SystemTime time) noexcept {
  return std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string format_unix_seconds(std::int64_t seconds) {
  const auto value = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&value, &tm) == nullptr) {
    return std::to_string(seconds);
  }
  char buffer[32];
  const std::size_t length = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buffer, length);
}

}  // namespace atls::attest::snp
