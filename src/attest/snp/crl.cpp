#include "attest/snp/crl.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <ctime>
#include <optional>

#include "attest/snp/errors.h"

namespace atls::attest::snp {
namespace {

Failure crl_malformed_failure(std::string detail) {
  return Failure{make_error_code(Errc::CrlMalformed), std::move(detail)};
}

std::optional<std::int64_t> crl_time_seconds(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::string crl_family(Signer kind) {
  return kind == Signer::Vcek ? "vcek" : "vlek";
}

Outcome<AmdCrl> parse_amd_crl(ByteView der) {
  if (der.empty()) {
    return crl_malformed_failure("empty");
  }
  const unsigned char* cursor = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!crl) {
    return crl_malformed_failure("not a DER CRL");
  }
  if (cursor != der.data() + der.size()) {
    return crl_malformed_failure("trailing bytes after the CRL");
  }
  AmdCrl out;
  const auto this_update = crl_time_seconds(X509_CRL_get0_lastUpdate(crl.get()));
  const auto next_update = crl_time_seconds(X509_CRL_get0_nextUpdate(crl.get()));
  if (!this_update) {
    return crl_malformed_failure("unusable thisUpdate");
  }
  if (!next_update) {
    return crl_malformed_failure("no usable nextUpdate");
  }
  out.this_update = *this_update;
  out.next_update = *next_update;
  out.crl = std::shared_ptr<X509_CRL>(crl.release(), X509_CRL_free);
  return out;
}

bool crl_signed_by(const AmdCrl& crl, X509* ark) {
  if (!crl.crl || ark == nullptr ||
      X509_NAME_cmp(X509_CRL_get_issuer(crl.crl.get()), X509_get_subject_name(ark)) != 0) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(ark);
  const bool ok = key != nullptr && X509_CRL_verify(crl.crl.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

Outcome<AmdCrl> parse_amd_crl_of(ByteView der, const TrustAnchors& anchors, Product product) {
  auto crl = parse_amd_crl(der);
  if (!crl) {
    return crl;
  }
  if (!crl_signed_by(*crl, anchors.for_product(product).ark.get())) {
    return Failure{make_error_code(Errc::CrlSignatureInvalid),
                   fmt::format("not signed by the {} ARK{}", to_string(product),
                               anchors.insecure() ? " (insecure test anchors)" : "")};
  }
  return crl;
}

bool crl_lists(const AmdCrl& crl, const ASN1_INTEGER* serial) {
  if (!crl.crl || serial == nullptr) {
    return false;
  }
  X509_REVOKED* entry = nullptr;
  // OpenSSL takes a non-const serial but only reads it.
  return X509_CRL_get0_by_serial(crl.crl.get(), &entry, const_cast<ASN1_INTEGER*>(serial)) == 1;
}

}  // namespace atls::attest::snp
