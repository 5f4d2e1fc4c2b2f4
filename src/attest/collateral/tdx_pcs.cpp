#include "attest/collateral/tdx_pcs.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/x509_util.h"
#include "core/time.h"
#include "net/address.h"

namespace atls::attest::collateral {
namespace {

Failure failure(Errc code, std::string detail) {
  return Failure{make_error_code(code), std::move(detail)};
}

/// A required issuer-chain header of a PCS response (the first of `names` present).
Outcome<std::string> chain_header(const net::HttpResponse& response,
                                  std::initializer_list<std::string_view> names,
                                  std::string_view document) {
  for (const auto name : names) {
    if (const auto value = response.header(name)) {
      return std::string(*value);
    }
  }
  return failure(Errc::InvalidResponse, std::string(document) + " response has no " +
                                            std::string(*names.begin()) + " header");
}

/// PEM is ASCII (RFC 7468). Checked on decoded issuer-chain headers so that nothing else reaches
/// the JSON payload (whose serialiser only accepts UTF-8).
bool is_ascii_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (u >= 0x20 || c == '\n' || c == '\r' || c == '\t');
  });
}

Bytes body_bytes(const std::string& body) {
  return Bytes(body.begin(), body.end());
}

}  // namespace

std::string tdx_cache_key(const tdx::Fmspc& fmspc, tdx::PckCaType ca) {
  return std::string(kTdxKeyPrefix) + to_hex(fmspc) + "-" + std::string(tdx::to_string(ca));
}

std::optional<std::pair<tdx::Fmspc, tdx::PckCaType>> parse_tdx_cache_key(std::string_view key) {
  if (!key.starts_with(kTdxKeyPrefix)) {
    return std::nullopt;
  }
  key.remove_prefix(kTdxKeyPrefix.size());
  if (key.size() < 14 || key[12] != '-') {
    return std::nullopt;
  }
  // Lower case only, so that one platform has exactly one key (and one file).
  for (const char c : key.substr(0, 12)) {
    if (c >= 'A' && c <= 'F') {
      return std::nullopt;
    }
  }
  const auto fmspc = tdx::parse_fmspc(key.substr(0, 12));
  const auto ca = tdx::parse_pck_ca_type(key.substr(13));
  if (!fmspc || !ca) {
    return std::nullopt;
  }
  return std::pair{*fmspc, *ca};
}

nlohmann::json tdx_dates_json(const tdx::CollateralDates& dates) {
  return {
      {"tcb_info_issue_date", format_rfc3339(dates.tcb_info_issue_date)},
      {"tcb_info_next_update", format_rfc3339(dates.tcb_info_next_update)},
      {"tcb_evaluation_data_number", dates.tcb_evaluation_data_number},
      {"qe_identity_issue_date", format_rfc3339(dates.qe_identity_issue_date)},
      {"qe_identity_next_update", format_rfc3339(dates.qe_identity_next_update)},
      {"qe_identity_tcb_evaluation_data_number", dates.qe_tcb_evaluation_data_number},
      {"pck_crl_this_update", format_rfc3339(dates.pck_crl_this_update)},
      {"pck_crl_next_update", format_rfc3339(dates.pck_crl_next_update)},
      {"root_ca_crl_this_update", format_rfc3339(dates.root_ca_crl_this_update)},
      {"root_ca_crl_next_update", format_rfc3339(dates.root_ca_crl_next_update)},
      {"certificates_not_after", format_rfc3339(dates.certificates_not_after)},
      {"expires_at", format_rfc3339(dates.expires_at)},
  };
}

TdxPcsLoader::TdxPcsLoader(std::string base_url, std::shared_ptr<const tdx::QuoteVerifier> verifier,
                           std::optional<std::string> root_ca_crl_url)
    : base_url_(std::move(base_url)),
      verifier_(std::move(verifier)),
      root_ca_crl_url_(std::move(root_ca_crl_url)) {}

Outcome<Bytes> TdxPcsLoader::fetch_root_ca_crl(Upstream& upstream, const tdx::PcsUrls& urls,
                                               const std::string& qe_identity_chain) const {
  if (root_ca_crl_url_) {
    auto response = upstream.get(*root_ca_crl_url_);
    if (!response) {
      return response.error();
    }
    return body_bytes(response->body);
  }
  std::optional<Failure> pccs_error;
  if (urls.root_ca_crl) {
    // PCCS serves the root CA CRL hex-encoded (decode_crl_bytes accepts DER, PEM and hex).
    auto response = upstream.get(*urls.root_ca_crl);
    if (response) {
      return body_bytes(response->body);
    }
    pccs_error = response.error();
    if (response.error().code == make_error_code(Errc::CircuitOpen) ||
        response.error().code == make_error_code(Errc::RateLimited)) {
      return response.error();
    }
  }
  // interop §5.2 step 2: otherwise the CRL distribution point of the root certificate. The URL
  // is taken from the PINNED anchor the chain ends in, never from an unverified certificate
  // (a response must not be able to point this service at an arbitrary host).
  std::optional<std::string> url;
  if (auto chain = tdx::decode_issuer_chain_header(qe_identity_chain)) {
    if (auto certs =
            tdx::parse_pem_chain(*chain, make_error_code(tdx::Errc::CollateralChainMalformed));
        certs && !certs->empty()) {
      if (const auto* anchor = verifier_->anchors().find(certs->back().get())) {
        url = tdx::crl_distribution_point(anchor->cert.get());
      }
    }
  }
  if (!url && tdx::is_intel_pcs(base_url_)) {
    url = std::string(tdx::kIntelRootCaCrlUrl);
  }
  if (!url) {
    if (pccs_error) {
      return *pccs_error;
    }
    return failure(Errc::InvalidResponse,
                   "no root CA CRL source: the trusted root has no CRL distribution point");
  }
  auto response = upstream.get(*url);
  if (!response) {
    return response.error();
  }
  return body_bytes(response->body);
}

Outcome<Loaded> TdxPcsLoader::fetch(const std::string& key, Upstream& upstream,
                                    const Loaded* current, SystemTime now) const {
  const auto parsed_key = parse_tdx_cache_key(key);
  if (!parsed_key) {
    return failure(Errc::InvalidKey, key);
  }
  const auto [fmspc, ca] = *parsed_key;
  const tdx::PcsUrls urls = tdx::pcs_urls(base_url_, fmspc, ca);

  tdx::PcsResponses responses;
  auto tcb = upstream.get(urls.tcb_info);
  if (!tcb) {
    return tcb.error();
  }
  auto tcb_chain = chain_header(
      *tcb, {tdx::kTcbInfoIssuerChainHeader, tdx::kTcbInfoIssuerChainHeaderV3}, "TCB info");
  if (!tcb_chain) {
    return tcb_chain.error();
  }
  auto qe = upstream.get(urls.qe_identity);
  if (!qe) {
    return qe.error();
  }
  auto qe_chain = chain_header(*qe, {tdx::kQeIdentityIssuerChainHeader}, "QE identity");
  if (!qe_chain) {
    return qe_chain.error();
  }
  auto pck = upstream.get(urls.pck_crl);
  if (!pck) {
    return pck.error();
  }
  auto pck_chain = chain_header(*pck, {tdx::kPckCrlIssuerChainHeader}, "PCK CRL");
  if (!pck_chain) {
    return pck_chain.error();
  }
  auto root_crl = fetch_root_ca_crl(upstream, urls, *qe_chain);
  if (!root_crl) {
    return root_crl.error();
  }
  responses.tcb_info_body = std::move(tcb->body);
  responses.tcb_info_issuer_chain = std::move(*tcb_chain);
  responses.qe_identity_body = std::move(qe->body);
  responses.qe_identity_issuer_chain = std::move(*qe_chain);
  responses.pck_crl = body_bytes(pck->body);
  responses.pck_crl_issuer_chain = std::move(*pck_chain);
  responses.root_ca_crl = std::move(*root_crl);
  auto documents = tdx::collateral_from_pcs(responses);
  if (!documents) {
    return failure(Errc::InvalidResponse, documents.error().describe());
  }
  if (!is_ascii_text(documents->tcb_info_issuer_chain) ||
      !is_ascii_text(documents->qe_identity_issuer_chain) ||
      !is_ascii_text(documents->pck_crl_issuer_chain)) {
    return failure(Errc::InvalidResponse, "an issuer-chain header is not ASCII PEM text");
  }
  return vet(key, std::move(*documents), current, now, Errc::InvalidResponse);
}

Outcome<Loaded> TdxPcsLoader::decode(const std::string& key, std::string_view payload,
                                     SystemTime now) const {
  auto documents = tdx::collateral_from_json(payload);
  if (!documents) {
    return failure(Errc::CacheFileMalformed, documents.error().describe());
  }
  return vet(key, std::move(*documents), nullptr, now, Errc::CacheFileMalformed);
}

Outcome<Loaded> TdxPcsLoader::vet(const std::string& key, tdx::CollateralDocuments documents,
                                  const Loaded* current, SystemTime now, Errc parse_error) const {
  const auto parsed_key = parse_tdx_cache_key(key);
  if (!parsed_key) {
    return failure(Errc::InvalidKey, key);
  }
  const auto [fmspc, ca] = *parsed_key;
  std::string payload = tdx::collateral_to_json(documents);
  auto collateral = tdx::Collateral::parse(std::move(documents));
  if (!collateral) {
    return failure(parse_error, collateral.error().describe());
  }
  const tdx::Collateral& bundle = **collateral;
  if (bundle.tcb_info().fmspc != fmspc) {
    return failure(
        Errc::ValidationFailed,
        "TCB info is for FMSPC " + to_hex(bundle.tcb_info().fmspc) + ", not " + to_hex(fmspc));
  }
  if (bundle.pck_ca_type() != ca) {
    return failure(Errc::ValidationFailed,
                   "the PCK CRL is not the " + std::string(tdx::to_string(ca)) + " CA's");
  }
  // The same checks a verification makes (chains to the pinned root, signatures, CRLs, TDX
  // ids and versions, freshness at `now`): nothing unverifiable is ever cached or served.
  if (auto verified = verifier_->verify_collateral(bundle, now); !verified) {
    return failure(Errc::ValidationFailed, verified.error().describe());
  }
  auto dates = tdx::collateral_dates(bundle);
  if (!dates) {
    return failure(Errc::ValidationFailed, dates.error().describe());
  }
  if (current != nullptr && current->value) {
    // Rollback protection: a PCCS (or anything between) serving older, still-valid documents
    // must not undo a TCB recovery or a revocation the cache has already seen.
    const auto previous =
        tdx::collateral_dates(*std::static_pointer_cast<const tdx::Collateral>(current->value));
    if (previous) {
      const auto older = [](SystemTime now_value, SystemTime before) { return now_value < before; };
      if (dates->tcb_evaluation_data_number < previous->tcb_evaluation_data_number ||
          dates->qe_tcb_evaluation_data_number < previous->qe_tcb_evaluation_data_number ||
          older(dates->tcb_info_issue_date, previous->tcb_info_issue_date) ||
          older(dates->qe_identity_issue_date, previous->qe_identity_issue_date) ||
          older(dates->pck_crl_this_update, previous->pck_crl_this_update) ||
          older(dates->root_ca_crl_this_update, previous->root_ca_crl_this_update)) {
        return failure(Errc::Regression,
                       "fetched TCB info issued " + format_rfc3339(dates->tcb_info_issue_date) +
                           " (evaluation " + std::to_string(dates->tcb_evaluation_data_number) +
                           "), cached " + format_rfc3339(previous->tcb_info_issue_date) +
                           " (evaluation " + std::to_string(previous->tcb_evaluation_data_number) +
                           "); or an older QE identity or CRL");
      }
    }
  }
  Loaded out;
  out.payload = std::move(payload);
  out.value = *collateral;
  out.expires_at = dates->expires_at;
  out.details = tdx_dates_json(*dates);
  out.details["fmspc"] = to_hex(fmspc);
  out.details["ca"] = std::string(tdx::to_string(ca));
  return out;
}

Outcome<std::shared_ptr<TdxCollateralService>> TdxCollateralService::create(
    TdxCollateralServiceOptions options, DocumentCache::Dependencies dependencies) {
  const std::string base = tdx::normalize_pcs_base_url(options.pccs_url);
  if (auto url = net::parse_url(base); !url) {
    return failure(Errc::InvalidOptions, "--pccs-url " + base + ": " + url.error().describe());
  }
  if (options.root_ca_crl_url) {
    if (auto url = net::parse_url(*options.root_ca_crl_url); !url) {
      return failure(Errc::InvalidOptions,
                     "root CA CRL URL " + *options.root_ca_crl_url + ": " + url.error().describe());
    }
  }
  tdx::TrustAnchorsPtr anchors = std::move(options.trust_anchors);
  if (!anchors) {
    auto production = tdx::TrustAnchors::intel_production();
    if (!production) {
      return production.error();
    }
    anchors = *production;
  }
  std::shared_ptr<TdxCollateralService> service(new TdxCollateralService());
  service->base_url_ = base;
  service->verifier_ = std::make_shared<const tdx::QuoteVerifier>(std::move(anchors));
  auto loader = std::make_shared<const TdxPcsLoader>(base, service->verifier_,
                                                     std::move(options.root_ca_crl_url));
  options.cache.key_prefix = std::string(kTdxKeyPrefix);
  if (!dependencies.fetcher) {
    dependencies.fetcher = std::make_shared<const HttpFetcher>(options.http);
  }
  auto cache =
      DocumentCache::create(std::move(options.cache), std::move(loader), std::move(dependencies));
  if (!cache) {
    return cache.error();
  }
  service->cache_ = std::move(*cache);
  const std::size_t restored = service->cache_->load_from_disk();
  if (restored > 0) {
    spdlog::info("collateral: restored {} TDX collateral bundle(s) from {}", restored,
                 service->cache_->options().directory.string());
  }
  return service;
}

Outcome<tdx::CollateralPtr> TdxCollateralService::collateral(const tdx::Fmspc& fmspc,
                                                             tdx::PckCaType ca) const {
  auto loaded = cache_->get(tdx_cache_key(fmspc, ca));
  if (!loaded) {
    return Failure{make_error_code(tdx::Errc::CollateralUnavailable),
                   "FMSPC " + to_hex(fmspc) + ", PCK CA " + std::string(tdx::to_string(ca)) + ": " +
                       loaded.error().describe()};
  }
  return std::static_pointer_cast<const tdx::Collateral>((*loaded)->value);
}

Outcome<tdx::CollateralPtr> TdxCollateralService::prefetch(const tdx::Fmspc& fmspc,
                                                           tdx::PckCaType ca,
                                                           std::chrono::milliseconds timeout) {
  auto loaded = cache_->refresh_now(tdx_cache_key(fmspc, ca), timeout);
  if (!loaded) {
    return loaded.error();
  }
  return std::static_pointer_cast<const tdx::Collateral>((*loaded)->value);
}

Outcome<void> TdxCollateralService::warm_up(
    const std::vector<std::pair<tdx::Fmspc, tdx::PckCaType>>& keys,
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> wanted;
  for (const auto& entry : cache_->snapshot()) {
    wanted.push_back(entry.key);
  }
  for (const auto& [fmspc, ca] : keys) {
    const std::string key = tdx_cache_key(fmspc, ca);
    if (std::find(wanted.begin(), wanted.end(), key) == wanted.end()) {
      wanted.push_back(key);
    }
  }
  std::string missing;
  for (const auto& key : wanted) {
    bool due = true;
    for (const auto& entry : cache_->snapshot()) {
      if (entry.key == key && entry.has_value && !entry.refresh_due) {
        due = false;  // restored and not yet due for a refresh
      }
    }
    if (due) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      (void)cache_->refresh_now(key, std::max(left, std::chrono::milliseconds(0)));
    }
    auto servable = cache_->get(key);
    if (!servable) {
      missing += (missing.empty() ? "" : "; ") + servable.error().describe();
    }
  }
  if (!missing.empty()) {
    return Failure{make_error_code(Errc::NotCached), missing};
  }
  return {};
}

std::vector<CachedTdxFile> read_tdx_cache_directory(const std::filesystem::path& directory,
                                                    const tdx::QuoteVerifier& verifier,
                                                    SystemTime now) {
  std::vector<CachedTdxFile> out;
  auto files = list_cache_files(directory);
  if (!files) {
    CachedTdxFile entry;
    entry.path = directory;
    entry.error = files.error();
    out.push_back(std::move(entry));
    return out;
  }
  for (const auto& path : *files) {
    const std::string name = path.filename().string();
    if (!name.starts_with(kTdxKeyPrefix)) {
      continue;
    }
    CachedTdxFile entry;
    entry.path = path;
    entry.key = name.substr(0, name.size() - kCacheFileSuffix.size());
    auto content = read_file_limited(path, std::uintmax_t{64} * 1024 * 1024);
    auto file = content ? parse_cache_file(*content) : Outcome<CacheFile>(content.error());
    if (!file) {
      entry.error = file.error();
      out.push_back(std::move(entry));
      continue;
    }
    entry.key = file->key;
    entry.fetched_at = file->fetched_at;
    auto documents = tdx::collateral_from_json(file->payload);
    auto collateral = documents ? tdx::Collateral::parse(std::move(*documents))
                                : Outcome<tdx::CollateralPtr>(documents.error());
    if (!collateral) {
      entry.error =
          Failure{make_error_code(Errc::CacheFileMalformed), collateral.error().describe()};
      out.push_back(std::move(entry));
      continue;
    }
    if (auto dates = tdx::collateral_dates(**collateral)) {
      entry.dates = *dates;
    }
    if (auto verified = verifier.verify_collateral(**collateral, now); !verified) {
      entry.error = Failure{make_error_code(Errc::ValidationFailed), verified.error().describe()};
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace atls::attest::collateral
