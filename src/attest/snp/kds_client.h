#pragma once
// AMD Key Distribution Service (KDS) client: fills the CertificateCache that the SEV-SNP
// verifier reads, off the verification path (docs/verification.md §2.4; AMD "VCEK Certificate
// and KDS Interface Specification").
//
//   GET {base}/vcek/v1/{Milan|Genoa|Turin}/{hwID hex}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
//       (Turin: fmcSPL=.. first and an 8-byte hwID)                               → VCEK, DER
//   GET {base}/{vcek|vlek}/v1/{product}/cert_chain                       → ASK|ASVK, ARK, PEM
//   GET {base}/{vcek|vlek}/v1/{product}/crl                                        → CRL, DER
//
// KDS rate-limits hard, so the fetcher
//   * serves from the cache whenever it can (a cached VCEK never causes a request),
//   * coalesces concurrent requests for the same resource (single flight),
//   * backs off after 429/503 (Retry-After honoured, else exponential) and sends nothing
//     meanwhile (callers get snp.kds_backoff and keep using the cache),
//   * opens a circuit breaker after N consecutive failures (snp.kds_circuit_open until a
//     half-open probe succeeds after the cool-down),
//   * remembers 404s for a while (a peer can make the verifier ask for arbitrary chip IDs),
//   * bounds its background queue,
//   * keeps the CRLs of KdsFetcherOptions::crl_products fresh: fetched at once, then refreshed
//     on its worker thread (schedule at KdsFetcherOptions::crl_refresh_interval), each vetted
//     (signed by the product's ARK, current, not older than the cached one) before it replaces
//     the cached CRL, which otherwise keeps being served until it expires.
// Everything blocks on the calling thread or the fetcher's own worker thread; never call the
// *_now functions on an I/O thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "attest/snp/certificate_cache.h"
#include "attest/snp/circuit_breaker.h"
#include "attest/snp/report.h"
#include "attest/snp/snp_verifier.h"
#include "attest/snp/trust_anchors.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::snp {

inline constexpr std::string_view kDefaultKdsBaseUrl = "https://kdsintf.amd.com";

/// "/vcek/v1/Milan/<hwID hex>?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115" (decimal SPLs, lowercase
/// hex; Turin: "?fmcSPL=..&blSPL=.." and 16 hex digits).
std::string kds_vcek_path(const VcekQuery& query);
/// "/vcek/v1/Milan/cert_chain" or "/vlek/v1/Milan/cert_chain".
std::string kds_cert_chain_path(Product product, Signer kind);
/// "/vcek/v1/Milan/crl" or "/vlek/v1/Milan/crl".
std::string kds_crl_path(Product product, Signer kind);

/// Parses a Retry-After value (RFC 9110 §10.2.3): delay-seconds (digits only; saturates) or an
/// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", relative to `now`, never negative). nullopt
/// for anything else (the obsolete RFC 850/asctime forms included): the caller then backs off
/// exponentially. Never reads outside `value`.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime now);

/// One HTTP answer from KDS.
struct KdsHttpResponse {
  unsigned status = 0;
  std::string body;
  std::optional<std::string> retry_after;  ///< the Retry-After header, if sent
};

/// How the fetcher talks HTTP. Tests may inject their own; the default uses src/net.
class KdsTransport {
 public:
  virtual ~KdsTransport() = default;
  /// GETs `url` (blocking). Any complete HTTP answer is a value; only transport failures
  /// (connect, TLS, timeout, malformed response) are errors.
  /// @par Thread Safety
  /// Must allow concurrent calls.
  virtual Outcome<KdsHttpResponse> get(const std::string& url) const = 0;
};

/// A transport over net::http_request (system trust store for https).
std::shared_ptr<const KdsTransport> make_http_kds_transport(
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
    std::size_t max_body_bytes = std::size_t{1024} * 1024);

struct KdsFetcherOptions {
  /// Scheme and authority (and optional path prefix) of KDS, no trailing slash needed.
  std::string base_url{kDefaultKdsBaseUrl};
  CircuitBreakerOptions breaker{5, std::chrono::seconds(300)};
  BackoffOptions backoff{std::chrono::seconds(2), std::chrono::seconds(900)};
  /// How long a 404 (or other definitive 4xx) for a VCEK is remembered.
  std::chrono::seconds negative_ttl{3600};
  /// Background queue bound; further prefetches are dropped (and counted).
  std::size_t max_queue = 64;
  /// Register with the cache so that every verifier miss schedules a background fetch.
  bool fetch_on_miss = true;
  /// HTTP timeout of the default transport.
  std::chrono::milliseconds request_timeout{10000};

  /// Products whose two CRLs (VCEK and VLEK family) the worker keeps fresh in the cache. Each
  /// is due at once after create(), then at the earlier of (last successful fetch +
  /// crl_refresh_interval) and (thisUpdate + 3/4 · (nextUpdate − thisUpdate)) of the cached
  /// CRL — but never sooner than min(crl_refresh_interval, kMinCrlRefreshSpacing) after a
  /// success, so that a CRL KDS keeps serving past that point is not re-fetched in a loop.
  /// A failed refresh is retried after crl_retry_initial, doubling per consecutive failure, at
  /// most min(crl_refresh_interval, crl_retry_max); the backoff and breaker above apply too.
  std::vector<Product> crl_products;
  std::chrono::seconds crl_refresh_interval{86400};
  std::chrono::seconds crl_retry_initial{30};
  std::chrono::seconds crl_retry_max{900};
  /// The anchors a fetched CRL must be signed by (the ARK of its product). Null: AMD's pinned
  /// anchors. A verifier running with insecure test anchors passes the same anchors here
  /// (TrustAnchors::insecure_for_testing), so the fetcher accepts exactly the CRLs that
  /// verifier would.
  std::shared_ptr<const TrustAnchors> crl_anchors;
};

/// The shortest time between two successful refreshes of one CRL (KdsFetcherOptions).
inline constexpr std::chrono::seconds kMinCrlRefreshSpacing{600};

/// One CRL of KdsFetcherOptions::crl_products, for readiness checks, metrics and logs.
struct KdsCrlStatus {
  Product product = Product::Milan;
  Signer kind = Signer::Vcek;
  /// A CRL of this (product, family) is cached and signed by the product's ARK (it may still
  /// have expired: compare next_update with the time).
  bool present = false;
  std::optional<SystemTime> this_update;   ///< of the cached CRL, when present
  std::optional<SystemTime> next_update;   ///< of the cached CRL, when present
  std::optional<SystemTime> last_success;  ///< last successful fetch by this process
  std::optional<SystemTime> next_refresh;  ///< when the worker fetches it next
  unsigned consecutive_failures = 0;       ///< failed refreshes since the last success
  std::optional<Failure> last_error;       ///< of the last refresh, if it failed
};

/// Observable state, for metrics and logs.
struct KdsStatus {
  BreakerState breaker = BreakerState::Closed;
  unsigned consecutive_failures = 0;
  std::optional<SystemTime> backoff_until;  ///< set while backing off
  std::optional<SystemTime> breaker_open_until;
  std::uint64_t requests = 0;              ///< HTTP requests sent
  std::uint64_t successes = 0;             ///< 200 with a valid body
  std::uint64_t failures = 0;              ///< counted by the breaker
  std::uint64_t rate_limited = 0;          ///< 429/503 answers
  std::uint64_t not_found = 0;             ///< 404 answers
  std::uint64_t cache_hits = 0;            ///< *_now calls served without a request
  std::uint64_t coalesced = 0;             ///< callers that joined an in-flight request
  std::uint64_t suppressed = 0;            ///< calls refused by backoff, breaker or negative cache
  std::uint64_t queue_dropped = 0;         ///< prefetches dropped because the queue was full
  std::uint64_t crl_refreshes_ok = 0;      ///< CRL fetches that were vetted and cached
  std::uint64_t crl_refreshes_failed = 0;  ///< CRL fetches that failed (not sent included)
  std::size_t queued = 0;
};

class KdsFetcher final {
 public:
  /// @param transport null: make_http_kds_transport(options.request_timeout).
  /// @param clock null: the system clock. Backoff and breaker deadlines use it.
  /// @return the fetcher (its worker thread started), or snp.kds_invalid_base_url, or
  /// snp.trust_anchor_invalid when crl_products is set and AMD's anchors do not load.
  static Outcome<std::shared_ptr<KdsFetcher>> create(
      KdsFetcherOptions options, std::shared_ptr<CertificateCache> cache,
      std::shared_ptr<const KdsTransport> transport = nullptr,
      std::shared_ptr<const Clock> clock = nullptr);

  /// Stops the worker (waits for its in-flight request) and unregisters from the cache.
  ~KdsFetcher();
  KdsFetcher(const KdsFetcher&) = delete;
  KdsFetcher& operator=(const KdsFetcher&) = delete;

  /// The VCEK for `query`: from the cache, else from KDS (then cached). Blocking.
  /// Errors: kds_backoff, kds_circuit_open, kds_not_found (also while remembered),
  /// kds_request_rejected, kds_rate_limited, kds_unreachable, kds_http_status,
  /// kds_response_invalid (the body is not the VCEK for `query`; the reason in the detail).
  /// @par Thread Safety
  /// Safe to call concurrently; concurrent calls for the same query share one request.
  Outcome<Bytes> fetch_vcek_now(const VcekQuery& query);

  /// Schedules a background fetch unless the VCEK is cached, already queued or in flight.
  /// Never blocks. @return false when dropped (queue full, or a remembered 404).
  bool prefetch_vcek(const VcekQuery& query);

  /// The ASK/ASVK and ARK (DER) for `product`: from the cache, else from KDS (then cached).
  Outcome<std::vector<Bytes>> fetch_cert_chain_now(Product product, Signer kind);

  /// A fresh CRL from KDS (then cached; CRLs change, so the cache is not consulted — use
  /// CertificateCache::crl() for the last good one). It is cached only if it is one DER CRL
  /// signed by the ARK of `product` (KdsFetcherOptions::crl_anchors), current at the clock's
  /// now (thisUpdate ≤ now < nextUpdate) and not older (thisUpdate) than the cached one;
  /// otherwise kds_response_invalid with the reason (crl_malformed, crl_signature_invalid,
  /// crl_expired, crl_rollback) in the detail, and the cached CRL stays. Updates the schedule
  /// and status of a CRL of crl_products. Blocking; errors as fetch_vcek_now.
  Outcome<Bytes> fetch_crl_now(Product product, Signer kind);

  /// Waits until every CRL of crl_products has been fetched once since create() (successfully
  /// or not; the worker does this at once), at most `timeout`. For start-up. @return the
  /// failure naming the CRLs that are not cached and current now (last error included);
  /// success when all are, even if a refresh failed but a restored CRL is still current.
  Outcome<void> warm_up_crls(std::chrono::milliseconds timeout);

  /// One entry per CRL of crl_products (product order, VCEK then VLEK). Thread-safe.
  std::vector<KdsCrlStatus> crl_status() const;

  KdsStatus status() const;

  /// Re-evaluates backoff and breaker deadlines now (they are computed from the injected
  /// clock; a test that moves its clock calls this).
  void wake();

  /// Waits until the worker has nothing it could do now — no queued VCEK, no CRL due (unless
  /// the backoff or breaker holds it) and no fetch running — at most `timeout`.
  bool wait_idle(std::chrono::milliseconds timeout);

  KdsFetcher(KdsFetcherOptions options, std::shared_ptr<CertificateCache> cache,
             std::shared_ptr<const KdsTransport> transport, std::shared_ptr<const Clock> clock);

 private:
  struct Flight {
    bool done = false;
    Outcome<std::string> result = std::string();
    std::condition_variable cv;
  };
  using Validator = std::function<Outcome<void>(const std::string& body)>;
  // The schedule of one CRL of crl_products (guarded by mutex_).
  struct CrlState {
    Product product = Product::Milan;
    Signer kind = Signer::Vcek;
    bool attempted = false;                   // fetched at least once since create()
    std::optional<std::int64_t> this_update;  // of the cached CRL, if usable
    std::optional<std::int64_t> next_update;
    std::optional<SystemTime> last_success;
    std::optional<SystemTime> retry_at;  // set after a failure
    unsigned failures = 0;
    std::optional<Failure> last_error;
  };

  Outcome<std::string> single_flight(const std::string& key, const std::string& path,
                                     const Validator& validate);
  Outcome<std::string> request(const std::string& path, const Validator& validate);
  Outcome<void> vet_crl(const Bytes& der, Product product, Signer kind, SystemTime now) const;
  CrlState* crl_state_locked(Product product, Signer kind);
  SystemTime crl_due_locked(const CrlState& state, SystemTime now) const;
  std::optional<std::size_t> next_crl_locked(SystemTime now, SystemTime& due) const;
  bool crl_runnable_locked(SystemTime now) const;
  std::optional<SystemTime> blocked_until_locked(SystemTime now) const;
  void run();

  KdsFetcherOptions options_;
  std::shared_ptr<CertificateCache> cache_;
  std::shared_ptr<const KdsTransport> transport_;
  std::shared_ptr<const Clock> clock_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  CircuitBreaker breaker_;
  RateLimitBackoff backoff_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  std::map<std::string, SystemTime> not_found_until_;
  std::deque<VcekQuery> queue_;
  std::set<std::string> queued_;
  bool worker_busy_ = false;
  bool stop_ = false;
  std::uint64_t wakeups_ = 0;
  KdsStatus counters_;
  std::vector<CrlState> crl_states_;  // one per (crl_products, family); fixed after create()
  std::thread worker_;
};

}  // namespace atls::attest::snp
