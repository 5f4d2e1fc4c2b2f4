#include "ratls/provider_attester.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include "net/errors.h"
#include "net/http_get.h"
#include "ratls/errors.h"
#include "ratls/message.h"

namespace atls::ratls {

bool is_private_ip_literal(std::string_view host) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return false;
  }
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    return bytes[0] == 10 || bytes[0] == 127 || (bytes[0] == 172 && (bytes[1] & 0xf0) == 16) ||
           (bytes[0] == 192 && bytes[1] == 168) || (bytes[0] == 169 && bytes[1] == 254);
  }
  const auto v6 = address.to_v6();
  const auto bytes = v6.to_bytes();
  return v6.is_loopback() || (bytes[0] & 0xfe) == 0xfc || v6.is_link_local();
}

Outcome<std::shared_ptr<ProviderAttester>> ProviderAttester::create(std::string_view url,
                                                                    attest::AttestationType type) {
  std::string text(url);
  if (text.find("://") == std::string::npos) {
    text = "http://" + text;
  }
  if (text.ends_with("/")) {
    text.pop_back();
  }
  if (text.ends_with("/attest")) {
    text.resize(text.size() - 7);
  }
  auto parsed = net::parse_url(text);
  if (!parsed) {
    return parsed.error();
  }
  if (!is_private_ip_literal(parsed->authority.host)) {
    return Failure{make_error_code(net::Errc::InvalidUrl),
                   "--dev-dummy-dcap host must be a private, loopback or link-local IP address: " +
                       parsed->authority.host};
  }
  if (type == attest::AttestationType::None) {
    return Failure{make_error_code(net::Errc::InvalidUrl),
                   "--dev-dummy-dcap needs an explicit attestation type other than none"};
  }
  if (parsed->target == "/") {
    parsed->target.clear();
  }
  return std::shared_ptr<ProviderAttester>(new ProviderAttester(std::move(*parsed), type));
}

Result<Bytes> ProviderAttester::generate(const attest::ReportData& report_data) const {
  net::Url request = url_;
  request.target += "/attest/" + to_hex(report_data);
  net::HttpGetOptions options;
  options.timeout = std::chrono::seconds(10);
  options.max_body_bytes = kMaxFrameLength;
  auto body = net::http_get(request, options);
  if (!body) {
    spdlog::warn("attestation provider {}: {}", request.target, body.error().describe());
    return body.error().code;
  }
  // A complete SCALE message is used as is (§4.4) — if it is of the configured type.
  if (auto message = decode_message(as_bytes(*body))) {
    if (message->type != type_) {
      spdlog::warn("attestation provider returned {} evidence, expected {}",
                   attest::to_string(message->type), attest::to_string(type_));
      return make_error_code(Errc::UnknownAttestationType);
    }
    return std::move(message->evidence);
  }
  return Bytes(body->begin(), body->end());
}

}  // namespace atls::ratls
