#pragma once
// A one-shot HTTP(S) GET for start-up configuration (measurement policy URLs). Blocking: it runs
// its own io_context and must not be called from an I/O thread.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"
#include "net/address.h"

namespace atls::net {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{10000};  ///< whole request
  std::size_t max_body_bytes = 16 * 1024 * 1024;
};

/// GETs `url` and returns the body of a 2xx response. https verifies the server against the
/// system trust store (honouring SSL_CERT_FILE / SSL_CERT_DIR) and the URL's host name.
Outcome<std::string> http_get(const Url& url, const HttpGetOptions& options = {});

}  // namespace atls::net
