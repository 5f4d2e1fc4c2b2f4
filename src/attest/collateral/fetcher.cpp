#include "attest/collateral/fetcher.h"

#include "net/address.h"

namespace atls::attest::collateral {

Outcome<net::HttpResponse> HttpFetcher::get(const std::string& url) const {
  auto parsed = net::parse_url(url);
  if (!parsed) {
    return parsed.error();
  }
  net::HttpGetOptions options;
  options.timeout = options_.timeout;
  options.max_body_bytes = options_.max_body_bytes;
  // PCS answers CRLs as DER or PEM and documents as JSON; accept whatever it serves.
  options.accept = "*/*";
  return net::http_request(*parsed, options);
}

}  // namespace atls::attest::collateral
