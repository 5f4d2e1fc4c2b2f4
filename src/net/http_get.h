#pragma once
// A one-shot HTTP(S) GET for start-up configuration (measurement policy URLs). Blocking: it runs
// its own io_context and must not be called from an I/O thread.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "core/error.h"
#include "net/address.h"

namespace atls::net {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{10000};  ///< whole request
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  /// Value of the Accept request header (AMD KDS serves DER/PEM, not JSON).
  std::string accept = "application/json";
};

/// A complete HTTP response of any status.
struct HttpResponse {
  unsigned status = 0;
  /// Response header fields, names in lower case; a repeated field keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;

  /// The value of header `lower_case_name`, or nullptr.
  const std::string* header(const std::string& lower_case_name) const {
    const auto found = headers.find(lower_case_name);
    return found == headers.end() ? nullptr : &found->second;
  }
};

/// GETs `url` and returns the body of a 2xx response. https verifies the server against the
/// system trust store (honouring SSL_CERT_FILE / SSL_CERT_DIR) and the URL's host name.
Outcome<std::string> http_get(const Url& url, const HttpGetOptions& options = {});

/// Like http_get, but returns every complete response whatever its status, with its headers
/// (callers that honour 429/503 and Retry-After need them). Transport failures are errors.
Outcome<HttpResponse> http_get_response(const Url& url, const HttpGetOptions& options = {});

}  // namespace atls::net
