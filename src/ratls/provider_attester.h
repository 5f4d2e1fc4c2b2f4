#pragma once
// Evidence from an attestation provider service (`--dev-dummy-dcap URL`, interop spec §4.4): a
// development aid that lets a machine without TEE access obtain evidence from a helper on a
// private address: GET {url}/attest/{128 hex chars of the report data}.
//
// The response is either a complete SCALE attestation message (§2.3) or raw evidence. Unlike
// flashbots, a message whose type differs from the configured type is refused rather than
// silently switching the local attestation type.

#include <string>

#include "attest/attester.h"
#include "net/address.h"

namespace atls::ratls {

class ProviderAttester final : public attest::Attester {
 public:
  /// Validates and normalises `url` (§4.4: http:// is prefixed when no scheme is given; one
  /// trailing "/" and a trailing "/attest" are removed; the host must be a private, loopback
  /// or link-local IP literal). Errors: net::Errc::InvalidUrl with the reason.
  static Outcome<std::shared_ptr<ProviderAttester>> create(std::string_view url,
                                                           attest::AttestationType type);

  attest::AttestationType type() const noexcept override { return type_; }
  /// Blocking HTTP GET (runs on the attestation pool).
  Result<Bytes> generate(const attest::ReportData& report_data) const override;

  const net::Url& url() const noexcept { return url_; }

 private:
  ProviderAttester(net::Url url, attest::AttestationType type)
      : url_(std::move(url)), type_(type) {}
  net::Url url_;
  attest::AttestationType type_;
};

/// Whether `host` is an IP literal in a private, loopback or link-local range (IPv4) or
/// loopback, unique-local or link-local (IPv6), as §4.4 requires.
bool is_private_ip_literal(std::string_view host);

}  // namespace atls::ratls
