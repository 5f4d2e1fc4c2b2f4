#include "attest/collateral/document_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "attest/collateral/cache_file.h"
#include "attest/collateral/errors.h"
#include "core/time.h"

namespace atls::attest::collateral {

namespace {

std::chrono::seconds seconds_between(SystemTime from, SystemTime to) {
  return std::chrono::duration_cast<std::chrono::seconds>(to - from);
}

}  // namespace

struct DocumentCache::Impl : std::enable_shared_from_this<DocumentCache::Impl> {
  struct Entry {
    LoadedPtr loaded;
    SystemTime fetched_at{};
    SystemTime refresh_at{};
    bool in_flight = false;
    unsigned waiters = 0;
    std::uint64_t generation = 0;  ///< completed loads
    bool last_ok = false;
    unsigned failures = 0;
    std::optional<SystemTime> next_attempt_at;
    std::optional<Failure> last_error;
    std::optional<SystemTime> last_error_at;
    std::optional<Failure> persist_error;
    SystemTime last_requested{};
    unsigned long long attempts = 0;
    unsigned long long successes = 0;
  };

  CacheOptions options;
  std::shared_ptr<const EntryLoader> loader;
  std::shared_ptr<const Clock> clock;
  Executor executor;
  std::unique_ptr<Upstream> upstream;

  mutable std::mutex mutex;
  std::condition_variable completed;  ///< a load finished (refresh_now waiters)
  std::condition_variable wake;       ///< the refresh thread has work
  std::map<std::string, Entry, std::less<>> entries;
  std::mt19937_64 random{std::random_device{}()};
  bool wake_requested = false;
  bool stopping = false;
  std::thread thread;

  bool valid_key(std::string_view key) const {
    return valid_cache_key(key) && key.starts_with(options.key_prefix) &&
           key.size() > options.key_prefix.size();
  }

  SystemTime refresh_time(SystemTime fetched_at, SystemTime expires_at) const {
    if (expires_at <= fetched_at) {
      return fetched_at;
    }
    const auto lifetime = expires_at - fetched_at;
    const auto lead = std::min<SystemTime::duration>(options.refresh_before_expiry, lifetime / 2);
    return std::min(expires_at - lead, fetched_at + options.max_age);
  }

  /// Caller holds `mutex`.
  SystemTime::duration backoff(unsigned failures) {
    const unsigned doublings = std::min(failures > 0 ? failures - 1 : 0U, 30U);
    auto delay = std::chrono::duration<double>(options.initial_backoff) *
                 static_cast<double>(1ULL << doublings);
    delay = std::min(delay, std::chrono::duration<double>(options.max_backoff));
    if (options.backoff_jitter > 0) {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      delay *= 1.0 + options.backoff_jitter * unit(random);
    }
    return std::chrono::duration_cast<SystemTime::duration>(delay);
  }

  /// Caller holds `mutex`.
  void request_wake() {
    wake_requested = true;
    wake.notify_one();
  }

  void dispatch(const std::string& key) {
    auto job = [self = shared_from_this(), key] { self->run_load(key); };
    if (executor) {
      executor(std::move(job));
    } else {
      job();
    }
  }

  void run_load(const std::string& key) {
    LoadedPtr current;
    {
      std::lock_guard lock(mutex);
      Entry& entry = entries[key];
      current = entry.loaded;
      ++entry.attempts;
    }
    const SystemTime now = clock->now();
    auto result = loader->fetch(key, *upstream, current.get(), now);
    if (!result) {
      finish_failure(key, result.error(), now);
      return;
    }
    auto loaded = std::make_shared<const Loaded>(std::move(*result));
    {
      std::lock_guard lock(mutex);
      Entry& entry = entries[key];
      entry.loaded = loaded;
      entry.fetched_at = now;
      entry.refresh_at = refresh_time(now, loaded->expires_at);
      entry.failures = 0;
      entry.next_attempt_at.reset();
      entry.last_ok = true;
      ++entry.successes;
    }
    spdlog::info("collateral: {} fetched; expires {}, next refresh {}", key,
                 format_rfc3339(loaded->expires_at),
                 format_rfc3339(refresh_time(now, loaded->expires_at)));
    std::optional<Failure> persist_error;
    if (!options.directory.empty()) {
      // Outside the lock: readers are never held up by the disk.
      auto written = write_file_atomically(cache_file_path(options.directory, key),
                                           encode_cache_file({key, now, loaded->payload}));
      if (!written) {
        spdlog::warn("collateral: cannot persist {}: {}", key, written.error().describe());
        persist_error = written.error();
      }
    }
    {
      std::lock_guard lock(mutex);
      Entry& entry = entries[key];
      entry.persist_error = std::move(persist_error);
      entry.in_flight = false;
      ++entry.generation;
    }
    completed.notify_all();
  }

  void finish_failure(const std::string& key, const Failure& failure, SystemTime now) {
    std::string message;
    {
      std::lock_guard lock(mutex);
      Entry& entry = entries[key];
      entry.last_ok = false;
      entry.last_error = failure;
      entry.last_error_at = now;
      // Refused by the breaker: no request was made, the breaker's cool-down paces the retry.
      if (failure.code != make_error_code(Errc::CircuitOpen)) {
        ++entry.failures;
        entry.next_attempt_at = now + backoff(entry.failures);
      }
      entry.in_flight = false;
      ++entry.generation;
      message = "collateral: fetching " + key + " failed (" + failure.describe() + ")";
      if (entry.loaded && now < entry.loaded->expires_at) {
        message +=
            "; serving the cached documents until " + format_rfc3339(entry.loaded->expires_at);
      }
      if (entry.next_attempt_at) {
        message += "; next attempt " + format_rfc3339(*entry.next_attempt_at);
      }
    }
    completed.notify_all();
    spdlog::warn("{}", message);
  }

  /// Failure for a key without servable documents. Caller holds `mutex`.
  Failure unavailable(const std::string& key, const Entry* entry, SystemTime now) const {
    std::string detail = key;
    Errc code = Errc::NotCached;
    if (entry != nullptr && entry->loaded) {
      code = Errc::Expired;
      detail += ": expired at " + format_rfc3339(entry->loaded->expires_at);
    }
    if (entry != nullptr && entry->in_flight) {
      detail += "; fetch in progress";
    } else if (entry != nullptr && entry->next_attempt_at && now < *entry->next_attempt_at) {
      detail += "; next attempt " + format_rfc3339(*entry->next_attempt_at);
    } else {
      detail += "; fetch scheduled";
    }
    if (entry != nullptr && entry->last_error) {
      detail += "; last error: " + entry->last_error->describe();
    }
    return Failure{make_error_code(code), std::move(detail)};
  }

  void run_thread(std::chrono::milliseconds tick) {
    while (true) {
      {
        std::unique_lock lock(mutex);
        wake.wait_for(lock, tick, [this] { return stopping || wake_requested; });
        if (stopping) {
          return;
        }
        wake_requested = false;
      }
      poll();
    }
  }

  void poll() {
    std::vector<std::string> due;
    {
      std::lock_guard lock(mutex);
      const SystemTime now = clock->now();
      std::erase_if(entries, [&](const auto& item) {
        const Entry& entry = item.second;
        return !entry.loaded && !entry.in_flight && entry.waiters == 0 &&
               now - entry.last_requested > options.forget_after;
      });
      if (!upstream->available()) {
        return;
      }
      // A half-open breaker grants one probe: start one load, not one per key.
      const bool probing = upstream->breaker_state() != BreakerState::Closed;
      for (auto& [key, entry] : entries) {
        if (entry.in_flight || (entry.next_attempt_at && now < *entry.next_attempt_at) ||
            (entry.loaded && now < entry.refresh_at)) {
          continue;
        }
        entry.in_flight = true;
        due.push_back(key);
        if (probing) {
          break;
        }
      }
    }
    for (const auto& key : due) {
      dispatch(key);
    }
  }
};

DocumentCache::DocumentCache(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DocumentCache::~DocumentCache() {
  stop();
}

Outcome<std::unique_ptr<DocumentCache>> DocumentCache::create(
    CacheOptions options, std::shared_ptr<const EntryLoader> loader, Dependencies dependencies) {
  if (!loader) {
    return Failure{make_error_code(Errc::InvalidOptions), "no loader"};
  }
  if (!options.key_prefix.empty() && !valid_cache_key(options.key_prefix)) {
    return Failure{make_error_code(Errc::InvalidOptions),
                   "key prefix \"" + options.key_prefix + "\" is not of [a-z0-9._-]"};
  }
  if (options.backoff_jitter < 0 || options.backoff_jitter > 10 || options.max_entries == 0) {
    return Failure{make_error_code(Errc::InvalidOptions), "backoff_jitter or max_entries"};
  }
  auto impl = std::make_shared<Impl>();
  impl->options = std::move(options);
  impl->loader = std::move(loader);
  impl->clock =
      dependencies.clock ? std::move(dependencies.clock) : std::make_shared<const SystemClock>();
  impl->executor = std::move(dependencies.executor);
  FetcherPtr fetcher = dependencies.fetcher ? std::move(dependencies.fetcher)
                                            : std::make_shared<const HttpFetcher>();
  impl->upstream =
      std::make_unique<Upstream>(std::move(fetcher), impl->clock, impl->options.upstream);
  return std::unique_ptr<DocumentCache>(new DocumentCache(std::move(impl)));
}

std::size_t DocumentCache::load_from_disk() {
  Impl& impl = *impl_;
  if (impl.options.directory.empty()) {
    return 0;
  }
  auto files = list_cache_files(impl.options.directory);
  if (!files) {
    spdlog::warn("collateral: {}", files.error().describe());
    return 0;
  }
  std::size_t restored = 0;
  for (const auto& path : *files) {
    std::string stem = path.filename().string();
    stem.resize(stem.size() - kCacheFileSuffix.size());
    if (!impl.valid_key(stem)) {
      continue;  // another cache's file, or not a cache file at all
    }
    auto content = read_file_limited(path, impl.options.max_file_bytes);
    if (!content) {
      spdlog::warn("collateral: ignoring {}: {}", path.string(), content.error().describe());
      continue;
    }
    auto file = parse_cache_file(*content);
    if (!file) {
      spdlog::warn("collateral: ignoring {}: {}", path.string(), file.error().describe());
      continue;
    }
    if (file->key != stem) {
      spdlog::warn("collateral: ignoring {}: it holds key {}", path.string(), file->key);
      continue;
    }
    const SystemTime now = impl.clock->now();
    auto decoded = impl.loader->decode(file->key, file->payload, now);
    if (!decoded) {
      spdlog::warn("collateral: ignoring {}: {}", path.string(), decoded.error().describe());
      continue;
    }
    if (decoded->expires_at <= now) {
      spdlog::info("collateral: ignoring {}: expired at {}", path.string(),
                   format_rfc3339(decoded->expires_at));
      continue;
    }
    auto loaded = std::make_shared<const Loaded>(std::move(*decoded));
    std::lock_guard lock(impl.mutex);
    Impl::Entry& entry = impl.entries[file->key];
    if (entry.loaded || entry.in_flight) {
      continue;
    }
    // A fetch time in the future (clock step, hand-made file) counts as now.
    entry.fetched_at = std::min(file->fetched_at, now);
    entry.loaded = std::move(loaded);
    entry.refresh_at = impl.refresh_time(entry.fetched_at, entry.loaded->expires_at);
    entry.last_ok = true;
    entry.last_requested = now;
    ++restored;
  }
  return restored;
}

Outcome<LoadedPtr> DocumentCache::get(std::string_view key) {
  Impl& impl = *impl_;
  if (!impl.valid_key(key)) {
    return Failure{make_error_code(Errc::InvalidKey), std::string(key)};
  }
  std::lock_guard lock(impl.mutex);
  const SystemTime now = impl.clock->now();
  auto it = impl.entries.find(key);
  if (it == impl.entries.end()) {
    if (impl.entries.size() >= impl.options.max_entries) {
      return Failure{
          make_error_code(Errc::CacheFull),
          std::to_string(impl.options.max_entries) + " keys; not fetching " + std::string(key)};
    }
    it = impl.entries.emplace(std::string(key), Impl::Entry{}).first;
  }
  Impl::Entry& entry = it->second;
  entry.last_requested = now;
  // Wake the refresh thread only when it has something to start (not while a load runs or the
  // key backs off), so that a busy verifier does not spin it.
  const bool may_start =
      !entry.in_flight && (!entry.next_attempt_at || now >= *entry.next_attempt_at);
  if (entry.loaded && now < entry.loaded->expires_at) {
    if (may_start && now >= entry.refresh_at) {
      impl.request_wake();
    }
    return entry.loaded;
  }
  if (may_start) {
    impl.request_wake();
  }
  return impl.unavailable(it->first, &entry, now);
}

Outcome<LoadedPtr> DocumentCache::refresh_now(std::string_view key,
                                              std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  if (!impl.valid_key(key)) {
    return Failure{make_error_code(Errc::InvalidKey), std::string(key)};
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(impl.mutex);
  auto it = impl.entries.find(key);
  if (it == impl.entries.end()) {
    if (impl.entries.size() >= impl.options.max_entries) {
      return Failure{make_error_code(Errc::CacheFull), std::string(key)};
    }
    it = impl.entries.emplace(std::string(key), Impl::Entry{}).first;
  }
  Impl::Entry& entry = it->second;
  entry.last_requested = impl.clock->now();
  ++entry.waiters;
  const std::uint64_t generation = entry.generation;
  if (!entry.in_flight) {
    entry.in_flight = true;
    lock.unlock();
    impl.dispatch(it->first);
    lock.lock();
  }
  const bool finished = impl.completed.wait_until(
      lock, deadline, [&entry, generation] { return entry.generation != generation; });
  --entry.waiters;
  if (!finished) {
    return Failure{make_error_code(Errc::Timeout),
                   std::string(key) + ": no answer within " + std::to_string(timeout.count()) +
                       " ms (the fetch continues in the background)"};
  }
  if (entry.last_ok && entry.loaded) {
    return entry.loaded;
  }
  return entry.last_error.value_or(Failure{make_error_code(Errc::NotCached), std::string(key)});
}

void DocumentCache::poll() {
  impl_->poll();
}

void DocumentCache::start(std::chrono::milliseconds tick) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->thread.joinable()) {
    return;
  }
  impl_->stopping = false;
  impl_->wake_requested = true;  // a first round at once
  Impl* impl = impl_.get();
  impl_->thread = std::thread([impl, tick] { impl->run_thread(tick); });
}

void DocumentCache::stop() {
  std::thread thread;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->wake.notify_all();
    thread = std::move(impl_->thread);
  }
  if (thread.joinable()) {
    thread.join();
  }
}

std::vector<EntrySnapshot> DocumentCache::snapshot() const {
  const Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  const SystemTime now = impl.clock->now();
  std::vector<EntrySnapshot> out;
  out.reserve(impl.entries.size());
  for (const auto& [key, entry] : impl.entries) {
    EntrySnapshot snapshot;
    snapshot.key = key;
    snapshot.has_value = entry.loaded != nullptr;
    if (entry.loaded) {
      snapshot.fetched_at = entry.fetched_at;
      snapshot.expires_at = entry.loaded->expires_at;
      snapshot.refresh_at = entry.refresh_at;
      snapshot.age = seconds_between(entry.fetched_at, now);
      snapshot.time_to_expiry = seconds_between(now, entry.loaded->expires_at);
      snapshot.expired = now >= entry.loaded->expires_at;
      snapshot.refresh_due = now >= entry.refresh_at;
      snapshot.details = entry.loaded->details;
    }
    snapshot.in_flight = entry.in_flight;
    snapshot.waiters = entry.waiters;
    snapshot.consecutive_failures = entry.failures;
    snapshot.next_attempt_at = entry.next_attempt_at;
    snapshot.last_error = entry.last_error;
    snapshot.last_error_at = entry.last_error_at;
    snapshot.persist_error = entry.persist_error;
    snapshot.attempts = entry.attempts;
    snapshot.successes = entry.successes;
    out.push_back(std::move(snapshot));
  }
  return out;
}

UpstreamSnapshot DocumentCache::upstream() const {
  return impl_->upstream->snapshot();
}

const CacheOptions& DocumentCache::options() const noexcept {
  return impl_->options;
}

}  // namespace atls::attest::collateral
