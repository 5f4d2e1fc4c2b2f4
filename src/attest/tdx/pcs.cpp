#include "attest/tdx/pcs.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "attest/tdx/errors.h"
#include "attest/tdx/x509_util.h"
#include "core/bytes.h"

namespace atls::attest::tdx {
namespace {

bool ends_with_ci(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) {
    return false;
  }
  return std::equal(suffix.begin(), suffix.end(), text.end() - static_cast<long>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

std::string upper_hex(ByteView bytes) {
  std::string hex = to_hex(bytes);
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return hex;
}

}  // namespace

std::string normalize_pcs_base_url(std::string_view url) {
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front()))) {
    url.remove_prefix(1);
  }
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) {
    url.remove_suffix(1);
  }
  const auto trim_slashes = [&url] {
    while (!url.empty() && url.back() == '/') {
      url.remove_suffix(1);
    }
  };
  trim_slashes();
  for (const std::string_view suffix : {"/sgx/certification/v4", "/tdx/certification/v4"}) {
    if (ends_with_ci(url, suffix)) {
      url.remove_suffix(suffix.size());
      trim_slashes();
      break;
    }
  }
  if (url.empty()) {
    return std::string(kIntelPcsBaseUrl);
  }
  return std::string(url);
}

bool is_intel_pcs(std::string_view base) {
  const std::size_t scheme = base.find("://");
  std::string_view rest = scheme == std::string_view::npos ? base : base.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/:?#"));
  std::string host(rest);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host == "api.trustedservices.intel.com";
}

PcsUrls pcs_urls(std::string_view base, const Fmspc& fmspc, PckCaType ca) {
  const std::string root(base);
  PcsUrls out;
  out.tcb_info = root + "/tdx/certification/v4/tcb?fmspc=" + upper_hex(fmspc);
  out.qe_identity = root + "/tdx/certification/v4/qe/identity?update=standard";
  out.pck_crl =
      root + "/sgx/certification/v4/pckcrl?ca=" + std::string(to_string(ca)) + "&encoding=der";
  if (!is_intel_pcs(base)) {
    out.root_ca_crl = root + "/sgx/certification/v4/rootcacrl";
  }
  return out;
}

std::optional<std::string> crl_distribution_point(X509* cert) {
  int critical = 0;
  std::unique_ptr<CRL_DIST_POINTS, tls::OsslDeleter<CRL_DIST_POINTS_free>> points(
      static_cast<CRL_DIST_POINTS*>(
          X509_get_ext_d2i(cert, NID_crl_distribution_points, &critical, nullptr)));
  if (!points) {
    return std::nullopt;
  }
  for (int i = 0; i < sk_DIST_POINT_num(points.get()); ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(points.get(), i);
    if (point == nullptr || point->distpoint == nullptr || point->distpoint->type != 0) {
      continue;  // type 0 = fullName (a GeneralNames list)
    }
    const GENERAL_NAMES* names = point->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, j);
      if (name != nullptr && name->type == GEN_URI) {
        const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
        return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                           static_cast<std::size_t>(ASN1_STRING_length(uri)));
      }
    }
  }
  return std::nullopt;
}

std::optional<Fmspc> parse_fmspc(std::string_view hex) {
  if (hex.size() != 12) {
    return std::nullopt;
  }
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != 6) {
    return std::nullopt;
  }
  Fmspc out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::optional<PckCaType> parse_pck_ca_type(std::string_view text) {
  if (text == "platform") {
    return PckCaType::Platform;
  }
  if (text == "processor") {
    return PckCaType::Processor;
  }
  return std::nullopt;
}

Outcome<CollateralDates> collateral_dates(const Collateral& collateral) {
  CollateralDates out;
  const TcbInfo& tcb = collateral.tcb_info();
  const QeIdentity& qe = collateral.qe_identity();
  out.tcb_info_issue_date = tcb.issue_date;
  out.tcb_info_next_update = tcb.next_update;
  out.tcb_evaluation_data_number = tcb.tcb_evaluation_data_number;
  out.qe_identity_issue_date = qe.issue_date;
  out.qe_identity_next_update = qe.next_update;
  out.qe_tcb_evaluation_data_number = qe.tcb_evaluation_data_number;
  struct CrlSpec {
    X509_CRL* crl;
    SystemTime* this_update;
    SystemTime* next_update;
    const char* name;
  };
  for (const auto& spec : {CrlSpec{collateral.pck_crl(), &out.pck_crl_this_update,
                                   &out.pck_crl_next_update, "PCK CRL"},
                           CrlSpec{collateral.root_ca_crl(), &out.root_ca_crl_this_update,
                                   &out.root_ca_crl_next_update, "root CA CRL"}}) {
    const ASN1_TIME* last = spec.crl ? X509_CRL_get0_lastUpdate(spec.crl) : nullptr;
    const ASN1_TIME* next = spec.crl ? X509_CRL_get0_nextUpdate(spec.crl) : nullptr;
    const auto this_update = last ? asn1_time_to_system(last) : std::nullopt;
    const auto next_update = next ? asn1_time_to_system(next) : std::nullopt;
    if (!this_update || !next_update) {
      return Failure{make_error_code(Errc::CrlMalformed),
                     std::string(spec.name) + " lacks thisUpdate or nextUpdate"};
    }
    *spec.this_update = *this_update;
    *spec.next_update = *next_update;
  }
  std::optional<SystemTime> not_after;
  for (const auto* chain : {&collateral.pck_crl_issuer_chain(), &collateral.tcb_info_issuer_chain(),
                            &collateral.qe_identity_issuer_chain()}) {
    for (const auto& cert : *chain) {
      const auto until = asn1_time_to_system(X509_get0_notAfter(cert.get()));
      if (!until) {
        return Failure{make_error_code(Errc::CollateralChainMalformed),
                       "unreadable notAfter in an issuer chain"};
      }
      not_after = not_after ? std::min(*not_after, *until) : *until;
    }
  }
  if (!not_after) {
    return Failure{make_error_code(Errc::CollateralChainMalformed), "empty issuer chains"};
  }
  out.certificates_not_after = *not_after;
  out.expires_at =
      std::min({out.tcb_info_next_update, out.qe_identity_next_update, out.pck_crl_next_update,
                out.root_ca_crl_next_update, out.certificates_not_after});
  return out;
}

}  // namespace atls::attest::tdx
