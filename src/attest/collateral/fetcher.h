#pragma once
// The I/O seams of the collateral services: a Fetcher performs one HTTP GET (injected so that
// tests use a fake server or a scripted fake, cf. go-tdx-guest's `Getter`), and an Executor runs
// the blocking fetches away from the I/O threads.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "net/http_get.h"

namespace atls::attest::collateral {

/// Runs a job somewhere else. Fetch jobs block (network, disk), so an executor must never run
/// them on an I/O thread, and must run every job it accepts (a dropped job leaves its key "in
/// flight"). An empty Executor runs the job on the calling thread: the cache's own refresh
/// thread in production (so a slow PCS never occupies the attestation pool), a CLI, a test.
using Executor = std::function<void(std::function<void()>)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;

  /// GETs `url` and returns the response whatever its status (the caller interprets 4xx/5xx).
  /// Blocking.
  /// @return net.* errors for transport failures only.
  /// @par Thread Safety
  /// Implementations must allow concurrent calls.
  virtual Outcome<net::HttpResponse> get(const std::string& url) const = 0;
};

using FetcherPtr = std::shared_ptr<const Fetcher>;

struct HttpFetcherOptions {
  /// Whole request. interop §5.2 step 2 uses 180 s; a background refresh can afford less, and a
  /// stuck request must not hold the refresh thread for long.
  std::chrono::milliseconds timeout{30000};
  std::size_t max_body_bytes = std::size_t{8} << 20;
};

/// The production Fetcher: net::http_request (http and https; https verifies the server against
/// the system trust store and the URL's host name).
class HttpFetcher final : public Fetcher {
 public:
  explicit HttpFetcher(HttpFetcherOptions options = {}) : options_(options) {}
  Outcome<net::HttpResponse> get(const std::string& url) const override;

 private:
  HttpFetcherOptions options_;
};

}  // namespace atls::attest::collateral
