#pragma once
// A one-shot HTTP(S) GET for start-up configuration (measurement policy URLs) and for the
// collateral services (attest/collateral), which also need the status and headers of non-2xx
// answers (Retry-After, issuer-chain headers). Blocking: it runs its own io_context and must not
// be called from an I/O thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "net/address.h"

namespace atls::net {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{10000};  ///< whole request
  std::size_t max_body_bytes = std::size_t{16} << 20;
  /// Limit of the status line plus all header fields (Intel PCS sends URL-encoded PEM chains in
  /// headers, a few KiB each; Beast's default is 8 KiB).
  std::size_t max_header_bytes = std::size_t{64} << 10;
  std::string accept = "application/json";  ///< Accept header value
  /// Request method; a POST sends `body` with `content_type` (the token client, sts/).
  std::string method = "GET";
  std::string body;
  std::string content_type;
  /// Further request header fields, sent as given.
  std::vector<std::pair<std::string, std::string>> headers;
  /// PEM file of trust anchors added to the system roots for https (`--tls-ca-certificate`).
  std::optional<std::string> ca_file;
};

/// A complete response, whatever its status.
struct HttpResponse {
  unsigned status = 0;
  /// Header fields in the order received (names as sent by the server).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// Value of the first field named `name` (ASCII case-insensitive), nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

/// GETs `url` and returns the body of a 2xx response. https verifies the server against the
/// system trust store (honouring SSL_CERT_FILE / SSL_CERT_DIR) and the URL's host name.
Outcome<std::string> http_get(const Url& url, const HttpGetOptions& options = {});

/// Sends the request (GET unless options.method says otherwise) and returns the response with
/// any status. Errors are transport failures only:
/// net.resolve_failed, net.connect_failed, net.tls_failed, net.timeout, net.body_too_large,
/// net.protocol_error (including oversized headers).
Outcome<HttpResponse> http_request(const Url& url, const HttpGetOptions& options = {});

}  // namespace atls::net
