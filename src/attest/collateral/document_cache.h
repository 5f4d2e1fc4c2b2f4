#pragma once
// A keyed cache of fetched, vetted documents that never makes its readers wait for the network
// (attest/collateral/README.md). Generic: what a key means, how its documents are fetched,
// vetted and serialised is the EntryLoader's business (TDX: tdx_pcs.h; AMD KDS later).
//
//  * get() answers from memory only. A miss (or an expired entry) returns
//    collateral.not_cached / collateral.expired at once and wakes the refresh thread.
//  * Loads run as jobs on the injected Executor (never on I/O threads), one at a time per key
//    (single flight); every request goes through the Upstream (circuit breaker, Retry-After
//    hold-off, per-URL single flight, status interpretation).
//  * Each entry knows when it expires (the loader computes it, e.g. the earliest nextUpdate /
//    notAfter of a TDX bundle) and is refreshed ahead of that: at the latest `max_age` after it
//    was fetched and `refresh_before_expiry` before it expires (halved for short-lived
//    documents). A failing refresh is retried with exponential backoff and jitter; the old
//    documents keep being served until they actually expire (serve stale until expiry), and a
//    fetch that fails vetting never replaces them.
//  * With a directory, every successful load is persisted atomically (cache_file.h) and
//    load_from_disk() restores the entries after a restart — vetted again by the loader, so a
//    corrupt, tampered or expired file is ignored.
//  * Everything is observable (snapshot(), upstream()): age and time to expiry per entry,
//    failures, next attempt, breaker state; time comes from the injected Clock.
//
// Thread safety: every public member may be called concurrently from any thread; get(),
// poll() and snapshot() never block on I/O (they take a mutex that is never held during a
// fetch or a disk write).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "attest/collateral/fetcher.h"
#include "attest/collateral/upstream.h"
#include "core/clock.h"
#include "core/error.h"

namespace atls::attest::collateral {

struct CacheOptions {
  /// Where entries are persisted; empty = memory only.
  std::filesystem::path directory;
  /// Every key starts with it (e.g. "tdx-"); load_from_disk() reads only such files, so several
  /// caches can share one directory.
  std::string key_prefix;
  /// Refresh at the latest this long after a successful fetch. Intel re-issues TCB info about
  /// daily (verification.md §1.5) and a PCCS refreshes daily by default; a day keeps new TCB
  /// levels and revocations flowing without load on the service.
  std::chrono::seconds max_age{std::chrono::hours(24)};
  /// ... and at the latest this long before the entry expires (at most half its lifetime).
  std::chrono::seconds refresh_before_expiry{std::chrono::hours(24 * 7)};
  /// Backoff after a failed load: initial * 2^(failures - 1), capped, plus up to `jitter` of it.
  std::chrono::seconds initial_backoff{30};
  std::chrono::seconds max_backoff{std::chrono::hours(1)};
  double backoff_jitter = 0.2;
  /// Bound on keys held (keys may derive from peer evidence, e.g. a quote's FMSPC).
  std::size_t max_entries = 64;
  /// An entry that never loaded and was not asked for during this long is dropped.
  std::chrono::seconds forget_after{std::chrono::hours(24)};
  std::uintmax_t max_file_bytes = std::uintmax_t{16} << 20;
  UpstreamOptions upstream;
};

/// The result of a successful load: what is served and what is persisted.
struct Loaded {
  std::string payload;                ///< persisted bytes (opaque to the cache)
  std::shared_ptr<const void> value;  ///< the parsed, vetted value (type known to the loader)
  SystemTime expires_at;              ///< not served from this instant on
  nlohmann::json details = nlohmann::json::object();  ///< document dates etc., for operators
};

using LoadedPtr = std::shared_ptr<const Loaded>;

class EntryLoader {
 public:
  virtual ~EntryLoader() = default;

  /// Fetches the documents of `key` through `upstream` and vets them at `now`. `current` is the
  /// cached entry this load would replace (nullptr when none): a loader should refuse documents
  /// older than it (collateral.regression). Runs on the executor; may block.
  /// @return the new entry, or a collateral.* failure (upstream errors unchanged;
  ///   invalid_response, validation_failed, regression).
  /// @par Thread Safety
  /// Called concurrently for different keys.
  virtual Outcome<Loaded> fetch(const std::string& key, Upstream& upstream, const Loaded* current,
                                SystemTime now) const = 0;

  /// Rebuilds an entry from a persisted payload, vetting it at `now` as strictly as a fetched
  /// one. collateral.cache_file_malformed / validation_failed otherwise.
  virtual Outcome<Loaded> decode(const std::string& key, std::string_view payload,
                                 SystemTime now) const = 0;
};

/// Observable state of one entry.
struct EntrySnapshot {
  std::string key;
  bool has_value = false;
  SystemTime fetched_at{};  ///< of the cached documents (has_value only)
  SystemTime expires_at{};
  SystemTime refresh_at{};
  std::chrono::seconds age{0};             ///< now - fetched_at
  std::chrono::seconds time_to_expiry{0};  ///< expires_at - now (negative once expired)
  bool expired = false;
  bool refresh_due = true;  ///< no documents, or past refresh_at
  bool in_flight = false;
  unsigned waiters = 0;  ///< callers blocked in refresh_now()
  unsigned consecutive_failures = 0;
  std::optional<SystemTime> next_attempt_at;  ///< backoff after failures
  std::optional<Failure> last_error;
  std::optional<SystemTime> last_error_at;
  std::optional<Failure> persist_error;  ///< last failure to write the cache file
  unsigned long long attempts = 0;
  unsigned long long successes = 0;
  nlohmann::json details = nlohmann::json::object();
};

class DocumentCache final {
 public:
  struct Dependencies {
    FetcherPtr fetcher;                  ///< nullptr = HttpFetcher
    std::shared_ptr<const Clock> clock;  ///< nullptr = SystemClock
    Executor executor;                   ///< empty = run loads on the calling thread
  };

  /// collateral.invalid_options when the key prefix is not a valid key start or the loader is
  /// null.
  static Outcome<std::unique_ptr<DocumentCache>> create(CacheOptions options,
                                                        std::shared_ptr<const EntryLoader> loader,
                                                        Dependencies dependencies = {});
  /// Stops the refresh thread. Loads already handed to an external executor finish on their own
  /// (they keep the cache's state alive).
  ~DocumentCache();
  DocumentCache(const DocumentCache&) = delete;
  DocumentCache& operator=(const DocumentCache&) = delete;

  /// Restores persisted entries (call once, at start-up, before serving). Files that do not
  /// parse, fail the loader's vetting or have expired are skipped with a warning. Returns how
  /// many entries were restored.
  std::size_t load_from_disk();

  /// The cached entry for `key` if it has not expired. Never blocks on I/O.
  /// @return collateral.not_cached (nothing yet) or collateral.expired, with the last fetch
  ///   error in the detail — a background load is scheduled unless one is running or the key
  ///   is backing off; collateral.invalid_key; collateral.cache_full.
  Outcome<LoadedPtr> get(std::string_view key);

  /// Loads `key` now (ignoring its backoff, not the upstream's breaker or hold-off) or joins the
  /// load in flight, and waits up to `timeout` for it. For start-up warm-up and the CLI; blocks.
  /// @return the new entry, the load's failure, or collateral.timeout.
  Outcome<LoadedPtr> refresh_now(std::string_view key, std::chrono::milliseconds timeout);

  /// Starts the loads that are due: entries without documents or past their refresh time, not
  /// in flight and not backing off, while the upstream accepts requests (one probe when the
  /// breaker is half-open). Non-blocking unless the executor is inline.
  void poll();

  /// Starts the refresh thread: it calls poll() every `tick` and whenever get() misses.
  void start(std::chrono::milliseconds tick = std::chrono::seconds(5));
  /// Stops the refresh thread (idempotent).
  void stop();

  std::vector<EntrySnapshot> snapshot() const;
  UpstreamSnapshot upstream() const;
  const CacheOptions& options() const noexcept;

 private:
  struct Impl;
  explicit DocumentCache(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace atls::attest::collateral
