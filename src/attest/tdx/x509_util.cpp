#include "attest/tdx/x509_util.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cstring>

#include "attest/tdx/errors.h"
#include "tls/ecdsa.h"

namespace atls::attest::tdx {
namespace {

constexpr std::string_view kBeginCert = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEndCert = "-----END CERTIFICATE-----";
constexpr std::string_view kBeginCrl = "-----BEGIN X509 CRL-----";
/// More certificates than any Intel chain has; bounds work on hostile input.
constexpr std::size_t kMaxChainLength = 8;

bool is_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0';
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

SystemTime from_fields(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                       unsigned s) noexcept {
  const std::int64_t seconds =
      days_from_civil(y, mo, d) * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + s;
  return SystemTime(std::chrono::seconds(seconds));
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& out) noexcept {
  if (pos + count > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

}  // namespace

Outcome<std::vector<tls::X509Ptr>> parse_pem_chain(std::string_view pem, ErrorCode error) {
  std::vector<tls::X509Ptr> chain;
  std::string_view rest = trim(pem);
  if (rest.empty()) {
    return Failure{error, "no certificate"};
  }
  while (!rest.empty()) {
    if (rest.substr(0, kBeginCert.size()) != kBeginCert) {
      return Failure{error,
                     "unexpected text before certificate " + std::to_string(chain.size() + 1)};
    }
    const auto end = rest.find(kEndCert);
    if (end == std::string_view::npos) {
      return Failure{error, "certificate " + std::to_string(chain.size() + 1) + " has no END line"};
    }
    if (chain.size() == kMaxChainLength) {
      return Failure{error, "more than " + std::to_string(kMaxChainLength) + " certificates"};
    }
    const std::string_view block = rest.substr(0, end + kEndCert.size());
    tls::BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (cert == nullptr) {
      ERR_clear_error();
      return Failure{
          error, "certificate " + std::to_string(chain.size() + 1) + " is not valid PEM/DER X.509"};
    }
    chain.emplace_back(cert);
    rest = trim(rest.substr(block.size()));
  }
  return chain;
}

Bytes certificate_der(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) {
    return {};
  }
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

Outcome<Bytes> decode_crl_bytes(ByteView data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (!data.empty() && data[0] == 0x30) {
    return Bytes(data.begin(), data.end());
  }
  const std::string_view trimmed = trim(text);
  if (trimmed.substr(0, kBeginCrl.size()) == kBeginCrl) {
    tls::BioPtr bio(BIO_new_mem_buf(trimmed.data(), static_cast<int>(trimmed.size())));
    X509CrlPtr crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!crl) {
      ERR_clear_error();
      return Failure{make_error_code(Errc::CrlMalformed), "PEM CRL does not parse"};
    }
    unsigned char* der = nullptr;
    const int length = i2d_X509_CRL(crl.get(), &der);
    if (length <= 0) {
      return Failure{make_error_code(Errc::CrlMalformed), "PEM CRL does not re-encode"};
    }
    Bytes out(der, der + length);
    OPENSSL_free(der);
    return out;
  }
  auto hex = from_hex(trimmed);
  if (!hex || hex->empty() || (*hex)[0] != 0x30) {
    return Failure{make_error_code(Errc::CrlMalformed), "CRL is neither DER, PEM nor hex"};
  }
  return std::move(*hex);
}

Outcome<X509CrlPtr> parse_crl_der(ByteView der) {
  const unsigned char* p = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl) {
    ERR_clear_error();
    return Failure{make_error_code(Errc::CrlMalformed), "CRL DER does not parse"};
  }
  if (p != der.data() + der.size()) {
    return Failure{make_error_code(Errc::CrlMalformed), "trailing bytes after the CRL"};
  }
  return crl;
}

tls::EvpPkeyPtr p256_key_from_raw(ByteView xy) {
  if (xy.size() != 64) {
    return nullptr;
  }
  unsigned char point[65];
  point[0] = 0x04;  // uncompressed SEC1 point
  std::memcpy(point + 1, xy.data(), 64);
  char group[] = "prime256v1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
      OSSL_PARAM_construct_end(),
  };
  tls::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  // EVP_PKEY_fromdata decodes the point with EC_POINT_oct2point, which rejects points that are
  // not on the curve (OpenSSL 3.0 ec_key_fromdata).
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    ERR_clear_error();
    return nullptr;
  }
  return tls::EvpPkeyPtr(key);
}

bool verify_p256_raw(EVP_PKEY* key, ByteView message, ByteView signature_rs) {
  if (key == nullptr || signature_rs.size() != 64 || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_bits(key) != 256) {
    return false;
  }
  // Raw r||s to DER ECDSA-Sig-Value (verification.md §1.3 step 12).
  const Bytes der =
      tls::ecdsa_der_from_components(signature_rs.first(32), signature_rs.subspan(32));
  if (der.empty()) {
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, tls::OsslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), der.data(), der.size(), message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::optional<SystemTime> asn1_time_to_system(const ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::nullopt;
  }
  return from_fields(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                     static_cast<unsigned>(tm.tm_mday), static_cast<unsigned>(tm.tm_hour),
                     static_cast<unsigned>(tm.tm_min), static_cast<unsigned>(tm.tm_sec));
}

std::optional<SystemTime> parse_rfc3339(std::string_view text) {
  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) || text[10] != 'T' ||
      !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) ||
      text[16] != ':' || !digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  if (text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ++pos;
    }
    if (pos == start || pos >= text.size()) {
      return std::nullopt;
    }
  }
  std::int64_t offset_seconds = 0;
  if (text.substr(pos) == "Z") {
    // UTC
  } else {
    unsigned oh = 0;
    unsigned om = 0;
    if (text.size() != pos + 6 || (text[pos] != '+' && text[pos] != '-') ||
        !digits(text, pos + 1, 2, oh) || text[pos + 3] != ':' || !digits(text, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = (text[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
  }
  // A leap second (":60") is folded into the next second, as chrono has no leap seconds.
  return from_fields(year, month, day, hour, minute, second) - std::chrono::seconds(offset_seconds);
}

std::string format_rfc3339(SystemTime time) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rem / 3600, (rem / 60) % 60,
                     rem % 60);
}

std::string common_name(const X509_NAME* name) {
  if (name == nullptr) {
    return {};
  }
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) {
    return {};
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace atls::attest::tdx
