#include "policy/loader.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "net/address.h"
#include "net/http_get.h"
#include "policy/errors.h"

namespace atls::policy {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

bool is_measurements_url(std::string_view file_or_url) {
  std::string prefix(trim(file_or_url).substr(0, 8));
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return prefix.starts_with("http://") || prefix.starts_with("https://");
}

Outcome<MeasurementPolicy> load_measurement_policy(std::string_view file_or_url) {
  const std::string_view source = trim(file_or_url);
  if (is_measurements_url(source)) {
    auto url = net::parse_url(source);
    if (!url) {
      return Failure{make_error_code(Errc::FetchFailed), url.error().describe()};
    }
    if (url->scheme == "http" && !net::is_loopback_host(url->authority.host)) {
      return Failure{make_error_code(Errc::InsecureUrl), std::string(source)};
    }
    auto body = net::http_get(*url);
    if (!body) {
      return Failure{make_error_code(Errc::FetchFailed),
                     std::string(source) + ": " + body.error().describe()};
    }
    return MeasurementPolicy::parse(*body, source);
  }
  std::ifstream in{std::string(source), std::ios::binary};
  if (!in) {
    return Failure{make_error_code(Errc::SourceUnreadable), std::string(source)};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Failure{make_error_code(Errc::SourceUnreadable), std::string(source)};
  }
  return MeasurementPolicy::parse(text.str(), source);
}

Outcome<MeasurementPolicy> policy_from_options(const std::optional<std::string>& measurements_file,
                                               const std::optional<std::string>& allowed_type) {
  if (measurements_file.has_value() == allowed_type.has_value()) {
    return Failure{make_error_code(Errc::PolicyOptionConflict),
                   "exactly one of --measurements-file or --allowed-remote-attestation-type must "
                   "be given (use --allowed-remote-attestation-type none to accept unattested "
                   "peers)"};
  }
  if (measurements_file) {
    return load_measurement_policy(*measurements_file);
  }
  return MeasurementPolicy::from_allowed_type(*allowed_type);
}

}  // namespace atls::policy
