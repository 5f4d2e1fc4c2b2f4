#include "attest/snp/kds_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/crl.h"
#include "attest/snp/errors.h"
#include "net/http_get.h"

namespace atls::attest::snp {
namespace {

// Remembered 404s are bounded too: a peer chooses the chip IDs the verifier asks for.
constexpr std::size_t kMaxRememberedNotFound = 4096;
// Retry-After delay-seconds beyond this are treated as this (the backoff maximum caps it
// further).
constexpr std::uint64_t kMaxRetryAfterSeconds = 365ULL * 24 * 3600;

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::string family(Signer kind) {
  return kind == Signer::Vcek ? "vcek" : "vlek";
}

std::string at(SystemTime time) {
  return format_unix_seconds(to_unix_seconds(time));
}

// CRL dates as time points. system_clock counts nanoseconds in 64 bits (until 2262): a CRL may
// say 9999, so clamp to a range that cannot overflow (the schedule only needs "far away").
constexpr std::int64_t kLatestSeconds = 7258118400;  // 2200-01-01

SystemTime from_unix_seconds(std::int64_t seconds) {
  return SystemTime(std::chrono::seconds(std::clamp<std::int64_t>(seconds, 0, kLatestSeconds)));
}

Outcome<void> as_outcome(const Result<void>& result) {
  if (!result) {
    return Failure{result.error()};
  }
  return {};
}

// "snp.crl_expired (nextUpdate … is not after …)": the reason of a refused KDS body.
std::string reason(const Failure& failure) {
  return failure.detail.empty() ? error_id(failure.code)
                                : error_id(failure.code) + " (" + failure.detail + ")";
}

std::chrono::milliseconds wait_time(SystemTime::duration until) {
  // Deadlines come from the injected clock; re-evaluate at least every minute (and at every
  // wake()), so a test's manual clock or a wall-clock jump is noticed.
  return std::clamp(std::chrono::ceil<std::chrono::milliseconds>(until),
                    std::chrono::milliseconds(1), std::chrono::milliseconds(60000));
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::optional<unsigned> two_digits(std::string_view text, std::size_t offset) {
  const char a = text[offset];
  const char b = text[offset + 1];
  if (a < '0' || a > '9' || b < '0' || b > '9') {
    return std::nullopt;
  }
  return static_cast<unsigned>((a - '0') * 10 + (b - '0'));
}

// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 characters.
std::optional<SystemTime> parse_imf_fixdate(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kDays{"Mon", "Tue", "Wed", "Thu",
                                                         "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(kDays.begin(), kDays.end(), text.substr(0, 3)) == kDays.end()) {
    return std::nullopt;
  }
  const auto month = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  const auto day = two_digits(text, 5);
  const auto century = two_digits(text, 12);
  const auto year = two_digits(text, 14);
  const auto hour = two_digits(text, 17);
  const auto minute = two_digits(text, 20);
  const auto second = two_digits(text, 23);
  if (month == kMonths.end() || !day || !century || !year || !hour || !minute || !second ||
      *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits (years ~1678–2262): keep dates well inside.
  const unsigned full_year = *century * 100 + *year;
  if (full_year < 1970 || full_year > 2200) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year(static_cast<int>(full_year)),
      std::chrono::month(static_cast<unsigned>(month - kMonths.begin() + 1)),
      std::chrono::day(*day)};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
         std::chrono::seconds(*second);
}

class HttpKdsTransport final : public KdsTransport {
 public:
  HttpKdsTransport(std::chrono::milliseconds timeout, std::size_t max_body)
      : timeout_(timeout), max_body_(max_body) {}

  Outcome<KdsHttpResponse> get(const std::string& url) const override {
    auto parsed = net::parse_url(url);
    if (!parsed) {
      return parsed.error();
    }
    net::HttpGetOptions options;
    options.timeout = timeout_;
    options.max_body_bytes = max_body_;
    options.accept = "*/*";  // DER certificates, PEM chains, DER CRLs
    auto response = net::http_request(*parsed, options);
    if (!response) {
      return response.error();
    }
    KdsHttpResponse out;
    out.status = response->status;
    out.body = std::move(response->body);
    if (const auto retry_after = response->header("retry-after")) {
      out.retry_after = std::string(*retry_after);
    }
    return out;
  }

 private:
  std::chrono::milliseconds timeout_;
  std::size_t max_body_;
};

}  // namespace

std::string kds_vcek_path(const VcekQuery& query) {
  const TcbVersion& tcb = query.reported_tcb;
  std::string path =
      "/vcek/v1/" + std::string(to_string(query.product)) + "/" + to_hex(kds_hw_id(query)) + "?";
  if (has_fmc(query.product)) {
    path += "fmcSPL=" + std::to_string(tcb.fmc.value_or(0)) + "&";
  }
  return path + "blSPL=" + std::to_string(tcb.bootloader) + "&teeSPL=" + std::to_string(tcb.tee) +
         "&snpSPL=" + std::to_string(tcb.snp) + "&ucodeSPL=" + std::to_string(tcb.microcode);
}

std::string kds_cert_chain_path(Product product, Signer kind) {
  return "/" + family(kind) + "/v1/" + std::string(to_string(product)) + "/cert_chain";
}

std::string kds_crl_path(Product product, Signer kind) {
  return "/" + family(kind) + "/v1/" + std::string(to_string(product)) + "/crl";
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime now) {
  while (!value.empty() && is_ows(value.front())) {
    value.remove_prefix(1);
  }
  while (!value.empty() && is_ows(value.back())) {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t seconds = 0;
    for (const char c : value) {
      seconds = std::min(kMaxRetryAfterSeconds, seconds * 10 + static_cast<std::uint64_t>(c - '0'));
    }
    return std::chrono::seconds(static_cast<std::int64_t>(seconds));
  }
  const auto date = parse_imf_fixdate(value);
  if (!date) {
    return std::nullopt;
  }
  if (*date <= now) {
    return std::chrono::seconds(0);
  }
  return std::chrono::ceil<std::chrono::seconds>(*date - now);
}

std::shared_ptr<const KdsTransport> make_http_kds_transport(std::chrono::milliseconds timeout,
                                                            std::size_t max_body_bytes) {
  return std::make_shared<const HttpKdsTransport>(timeout, max_body_bytes);
}

KdsFetcher::KdsFetcher(KdsFetcherOptions options, std::shared_ptr<CertificateCache> cache,
                       std::shared_ptr<const KdsTransport> transport,
                       std::shared_ptr<const Clock> clock)
    : options_(std::move(options)),
      cache_(std::move(cache)),
      transport_(std::move(transport)),
      clock_(std::move(clock)),
      breaker_(options_.breaker),
      backoff_(options_.backoff) {}

Outcome<std::shared_ptr<KdsFetcher>> KdsFetcher::create(
    KdsFetcherOptions options, std::shared_ptr<CertificateCache> cache,
    std::shared_ptr<const KdsTransport> transport, std::shared_ptr<const Clock> clock) {
  while (options.base_url.ends_with('/')) {
    options.base_url.pop_back();
  }
  if (auto url = net::parse_url(options.base_url + "/"); !url) {
    return fail(Errc::KdsInvalidBaseUrl, options.base_url);
  }
  if (!cache) {
    return fail(Errc::CertificateCacheUnavailable, "no cache");
  }
  if (!transport) {
    transport = make_http_kds_transport(options.request_timeout);
  }
  if (!clock) {
    clock = std::make_shared<const SystemClock>();
  }
  if (!options.crl_anchors) {
    auto pinned = TrustAnchors::pinned();
    if (!pinned) {
      return Failure{pinned.error(), "the built-in AMD anchors (for CRLs)"};
    }
    options.crl_anchors = *pinned;
  }
  options.crl_refresh_interval = std::max(options.crl_refresh_interval, std::chrono::seconds(1));
  auto fetcher = std::make_shared<KdsFetcher>(std::move(options), std::move(cache),
                                              std::move(transport), std::move(clock));
  // The CRLs to keep fresh, with the dates of those restored from the cache directory (used
  // only if they are signed by the product's ARK). All are due at once.
  for (const Product product : fetcher->options_.crl_products) {
    for (const Signer kind : {Signer::Vcek, Signer::Vlek}) {
      if (fetcher->crl_state_locked(product, kind) != nullptr) {
        continue;  // listed twice
      }
      CrlState state;
      state.product = product;
      state.kind = kind;
      if (const auto cached = fetcher->cache_->crl(product, kind)) {
        if (auto crl = parse_amd_crl_of(*cached, *fetcher->options_.crl_anchors, product)) {
          state.this_update = crl->this_update;
          state.next_update = crl->next_update;
        }
      }
      fetcher->crl_states_.push_back(std::move(state));
    }
  }
  fetcher->worker_ = std::thread([raw = fetcher.get()] { raw->run(); });
  if (fetcher->options_.fetch_on_miss) {
    std::weak_ptr<KdsFetcher> weak = fetcher;
    fetcher->cache_->set_miss_handler([weak](const VcekQuery& query) {
      if (auto self = weak.lock()) {
        self->prefetch_vcek(query);
      }
    });
  }
  return fetcher;
}

KdsFetcher::~KdsFetcher() {
  if (options_.fetch_on_miss) {
    cache_->set_miss_handler(nullptr);
  }
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
}

Outcome<std::string> KdsFetcher::request(const std::string& path, const Validator& accept) {
  {
    std::lock_guard lock(mutex_);
    const SystemTime now = clock_->now();
    if (breaker_.state(now) == BreakerState::Open) {
      ++counters_.suppressed;
      return fail(Errc::KdsCircuitOpen, "until " + at(*breaker_.open_until()));
    }
    if (const auto until = backoff_.blocked_until(now)) {
      ++counters_.suppressed;
      return fail(Errc::KdsBackoff, "until " + at(*until));
    }
    if (!breaker_.try_acquire(now)) {
      ++counters_.suppressed;
      return fail(Errc::KdsCircuitOpen, "half-open probe in flight");
    }
    ++counters_.requests;
  }
  enum class Verdict { Success, Answer, Failure, RateLimited };
  Verdict verdict = Verdict::Failure;
  Outcome<std::string> result = fail(Errc::KdsUnreachable);
  std::optional<std::chrono::seconds> retry_after;
  auto response = transport_->get(options_.base_url + path);
  if (!response) {
    result = fail(Errc::KdsUnreachable, response.error().describe());
  } else if (response->status == 200) {
    if (auto accepted = accept(response->body); accepted) {
      verdict = Verdict::Success;
      result = std::move(response->body);
    } else {
      result = fail(Errc::KdsResponseInvalid, path + ": " + reason(accepted.error()));
    }
  } else if (response->status == 429 || response->status == 503) {
    verdict = Verdict::RateLimited;
    if (response->retry_after) {
      retry_after = parse_retry_after(*response->retry_after, clock_->now());
    }
    result = fail(Errc::KdsRateLimited, "HTTP " + std::to_string(response->status));
  } else if (response->status == 404) {
    verdict = Verdict::Answer;
    result = fail(Errc::KdsNotFound, path);
  } else if (response->status >= 400 && response->status < 500) {
    verdict = Verdict::Answer;
    result = fail(Errc::KdsRequestRejected, "HTTP " + std::to_string(response->status));
  } else {
    result = fail(Errc::KdsHttpStatus, "HTTP " + std::to_string(response->status));
  }

  std::lock_guard lock(mutex_);
  const SystemTime now = clock_->now();
  switch (verdict) {
    case Verdict::Success:
    case Verdict::Answer:
      // KDS answered definitively: it is up and not limiting us.
      breaker_.on_success();
      backoff_.on_success();
      if (verdict == Verdict::Success) {
        ++counters_.successes;
      } else if (response->status == 404) {
        ++counters_.not_found;
      }
      break;
    case Verdict::Failure:
      breaker_.on_failure(now);
      ++counters_.failures;
      break;
    case Verdict::RateLimited: {
      breaker_.on_failure(now);
      ++counters_.failures;
      ++counters_.rate_limited;
      const SystemTime until = backoff_.on_rate_limited(now, retry_after);
      // boost::system::result::error() returns a copy: rebuild the failure with the deadline.
      result = fail(Errc::KdsRateLimited, "HTTP " + std::to_string(response->status) +
                                              ", backing off until " + at(until));
      break;
    }
  }
  return result;
}

Outcome<std::string> KdsFetcher::single_flight(const std::string& key, const std::string& path,
                                               const Validator& accept) {
  std::shared_ptr<Flight> flight;
  {
    std::unique_lock lock(mutex_);
    if (const auto found = flights_.find(key); found != flights_.end()) {
      flight = found->second;
      ++counters_.coalesced;
      flight->cv.wait(lock, [&flight] { return flight->done; });
      return flight->result;
    }
    flight = std::make_shared<Flight>();
    flights_[key] = flight;
  }
  auto result = request(path, accept);
  {
    std::lock_guard lock(mutex_);
    flight->result = result;
    flight->done = true;
    flights_.erase(key);
  }
  flight->cv.notify_all();
  return result;
}

Outcome<Bytes> KdsFetcher::fetch_vcek_now(const VcekQuery& query) {
  if (auto cached = cache_->lookup_vcek(query)) {
    std::lock_guard lock(mutex_);
    ++counters_.cache_hits;
    return std::move(*cached);
  }
  const std::string name = vcek_cache_name(query);
  {
    std::lock_guard lock(mutex_);
    if (const auto found = not_found_until_.find(name); found != not_found_until_.end()) {
      if (clock_->now() < found->second) {
        ++counters_.suppressed;
        return fail(Errc::KdsNotFound, "remembered until " + at(found->second));
      }
      not_found_until_.erase(found);
    }
  }
  const Validator accept = [this, &query](const std::string& body) {
    // Validated against the query before it is cached: KDS (or whatever answers at the base
    // URL) must return exactly this chip's VCEK for this TCB.
    return as_outcome(cache_->store_vcek(query, Bytes(body.begin(), body.end())));
  };
  auto body = single_flight("vcek:" + name, kds_vcek_path(query), accept);
  if (!body) {
    const ErrorCode& code = body.error().code;
    if (code == Errc::KdsNotFound || code == Errc::KdsRequestRejected) {
      std::lock_guard lock(mutex_);
      if (not_found_until_.size() >= kMaxRememberedNotFound) {
        std::erase_if(not_found_until_,
                      [now = clock_->now()](const auto& entry) { return entry.second <= now; });
        if (not_found_until_.size() >= kMaxRememberedNotFound) {
          not_found_until_.clear();
        }
      }
      not_found_until_[name] = clock_->now() + options_.negative_ttl;
    }
    return body.error();
  }
  return Bytes(body->begin(), body->end());
}

bool KdsFetcher::prefetch_vcek(const VcekQuery& query) {
  if (cache_->lookup_vcek(query)) {
    return true;
  }
  const std::string name = vcek_cache_name(query);
  std::lock_guard lock(mutex_);
  if (queued_.contains(name) || flights_.contains("vcek:" + name)) {
    return true;
  }
  if (const auto found = not_found_until_.find(name);
      found != not_found_until_.end() && clock_->now() < found->second) {
    ++counters_.suppressed;
    return false;
  }
  if (queue_.size() >= options_.max_queue) {
    ++counters_.queue_dropped;
    return false;
  }
  queue_.push_back(query);
  queued_.insert(name);
  work_cv_.notify_all();
  return true;
}

Outcome<std::vector<Bytes>> KdsFetcher::fetch_cert_chain_now(Product product, Signer kind) {
  if (auto cached = cache_->cert_chain(product, kind)) {
    std::lock_guard lock(mutex_);
    ++counters_.cache_hits;
    return std::move(*cached);
  }
  const Validator accept = [this, product, kind](const std::string& body) {
    return as_outcome(cache_->store_cert_chain(product, kind, body));
  };
  auto body = single_flight("chain:" + family(kind) + ":" + std::string(to_string(product)),
                            kds_cert_chain_path(product, kind), accept);
  if (!body) {
    return body.error();
  }
  auto chain = parse_kds_cert_chain(*body);
  if (!chain) {
    return fail(Errc::KdsResponseInvalid, error_id(chain.error()));
  }
  return std::move(*chain);
}

// A fetched CRL replaces the cached one only if it is at least as good (docs/verification.md
// §2.4; the same checks as the verifier's, crl.h): AMD's ARK for this product signed it, it is
// current, and it is not older than the cached one — an attacker on the path to KDS (or a
// stale mirror) can otherwise roll revocations back by replaying an old, validly signed CRL
// that has not expired yet.
Outcome<void> KdsFetcher::vet_crl(const Bytes& der, Product product, Signer kind,
                                  SystemTime now) const {
  auto crl = parse_amd_crl_of(der, *options_.crl_anchors, product);
  if (!crl) {
    return crl.error();
  }
  const std::int64_t now_seconds = to_unix_seconds(now);
  if (now_seconds < crl->this_update) {
    return fail(Errc::CrlExpired, "thisUpdate " + format_unix_seconds(crl->this_update) +
                                      " is after now " + format_unix_seconds(now_seconds));
  }
  if (now_seconds >= crl->next_update) {
    return fail(Errc::CrlExpired, "nextUpdate " + format_unix_seconds(crl->next_update) +
                                      " is not after now " + format_unix_seconds(now_seconds));
  }
  if (const auto cached = cache_->crl(product, kind)) {
    const auto previous = parse_amd_crl_of(*cached, *options_.crl_anchors, product);
    if (previous && crl->this_update < previous->this_update) {
      return fail(Errc::CrlRollback, "thisUpdate " + format_unix_seconds(crl->this_update) +
                                         " is before the cached CRL's " +
                                         format_unix_seconds(previous->this_update));
    }
  }
  return {};
}

Outcome<Bytes> KdsFetcher::fetch_crl_now(Product product, Signer kind) {
  const Validator accept = [this, product, kind](const std::string& body) -> Outcome<void> {
    const Bytes der(body.begin(), body.end());
    if (auto vetted = vet_crl(der, product, kind, clock_->now()); !vetted) {
      return vetted;
    }
    return as_outcome(cache_->store_crl(product, kind, der));
  };
  auto body = single_flight("crl:" + family(kind) + ":" + std::string(to_string(product)),
                            kds_crl_path(product, kind), accept);
  std::optional<AmdCrl> stored;
  if (body) {
    auto parsed = parse_amd_crl(as_bytes(*body));
    if (parsed) {
      stored = std::move(*parsed);
    }
  }
  {
    std::lock_guard lock(mutex_);
    const SystemTime now = clock_->now();
    if (body) {
      ++counters_.crl_refreshes_ok;
    } else {
      ++counters_.crl_refreshes_failed;
    }
    if (CrlState* state = crl_state_locked(product, kind)) {
      state->attempted = true;
      if (body) {
        state->last_success = now;
        state->retry_at.reset();
        state->failures = 0;
        state->last_error.reset();
        if (stored) {
          state->this_update = stored->this_update;
          state->next_update = stored->next_update;
        }
      } else {
        // Retry after crl_retry_initial, doubling, at most min(interval, crl_retry_max).
        ++state->failures;
        state->last_error = body.error();
        const auto cap = std::max(std::chrono::seconds(1),
                                  std::min(options_.crl_refresh_interval, options_.crl_retry_max));
        auto delay = std::clamp(options_.crl_retry_initial, std::chrono::seconds(1), cap);
        for (unsigned i = 1; i < state->failures && delay < cap; ++i) {
          delay = std::min(delay * 2, cap);
        }
        state->retry_at = now + delay;
      }
    }
  }
  idle_cv_.notify_all();  // warm_up_crls waits for the first attempts
  if (!body) {
    return body.error();
  }
  return Bytes(body->begin(), body->end());
}

KdsFetcher::CrlState* KdsFetcher::crl_state_locked(Product product, Signer kind) {
  for (auto& state : crl_states_) {
    if (state.product == product && state.kind == kind) {
      return &state;
    }
  }
  return nullptr;
}

SystemTime KdsFetcher::crl_due_locked(const CrlState& state, SystemTime now) const {
  if (state.retry_at) {
    return *state.retry_at;
  }
  if (!state.last_success) {
    return now;  // not fetched by this process yet (a CRL restored from disk included)
  }
  const auto interval = options_.crl_refresh_interval;
  SystemTime due = *state.last_success + interval;
  if (state.this_update && state.next_update && *state.next_update > *state.this_update) {
    // Well before nextUpdate, so that an outage of KDS has a quarter of the CRL's lifetime to
    // heal before verification fails with crl_expired.
    const std::int64_t span = *state.next_update - *state.this_update;
    due = std::min(due, from_unix_seconds(*state.this_update + span / 4 * 3 + span % 4 * 3 / 4));
  }
  return std::max(due, *state.last_success + std::min(interval, kMinCrlRefreshSpacing));
}

std::optional<std::size_t> KdsFetcher::next_crl_locked(SystemTime now, SystemTime& due) const {
  std::optional<std::size_t> earliest;
  for (std::size_t i = 0; i < crl_states_.size(); ++i) {
    const SystemTime at_time = crl_due_locked(crl_states_[i], now);
    if (!earliest || at_time < due) {
      earliest = i;
      due = at_time;
    }
  }
  return earliest;
}

std::optional<SystemTime> KdsFetcher::blocked_until_locked(SystemTime now) const {
  std::optional<SystemTime> blocked = backoff_.blocked_until(now);
  if (breaker_.state(now) == BreakerState::Open &&
      (!blocked || *breaker_.open_until() > *blocked)) {
    blocked = breaker_.open_until();
  }
  return blocked;
}

bool KdsFetcher::crl_runnable_locked(SystemTime now) const {
  SystemTime due{};
  return next_crl_locked(now, due) && due <= now && !blocked_until_locked(now);
}

Outcome<void> KdsFetcher::warm_up_crls(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  work_cv_.notify_all();
  idle_cv_.wait_for(lock, timeout, [this] {
    const bool all_attempted = std::all_of(crl_states_.begin(), crl_states_.end(),
                                           [](const CrlState& state) { return state.attempted; });
    // While backing off or with the circuit open, the remaining CRLs would only wait.
    return stop_ || all_attempted || (!worker_busy_ && blocked_until_locked(clock_->now()));
  });
  const std::int64_t now = to_unix_seconds(clock_->now());
  std::string missing;
  for (const auto& state : crl_states_) {
    if (state.next_update && *state.next_update > now) {
      continue;
    }
    missing += (missing.empty() ? "" : "; ") + std::string(to_string(state.product)) + " " +
               family(state.kind) + ": ";
    if (state.last_error) {
      missing += state.last_error->describe();
    } else if (state.next_update) {
      missing += "expired " + format_unix_seconds(*state.next_update);
    } else {
      missing += "not fetched yet";
    }
  }
  if (!missing.empty()) {
    return fail(Errc::CrlMissing, missing);
  }
  return {};
}

std::vector<KdsCrlStatus> KdsFetcher::crl_status() const {
  std::lock_guard lock(mutex_);
  const SystemTime now = clock_->now();
  std::vector<KdsCrlStatus> out;
  for (const auto& state : crl_states_) {
    KdsCrlStatus status;
    status.product = state.product;
    status.kind = state.kind;
    status.present = state.this_update.has_value();
    if (status.present) {
      status.this_update = from_unix_seconds(*state.this_update);
      status.next_update = from_unix_seconds(*state.next_update);
    }
    status.last_success = state.last_success;
    status.next_refresh = crl_due_locked(state, now);
    status.consecutive_failures = state.failures;
    status.last_error = state.last_error;
    out.push_back(std::move(status));
  }
  return out;
}

KdsStatus KdsFetcher::status() const {
  std::lock_guard lock(mutex_);
  const SystemTime now = clock_->now();
  KdsStatus status = counters_;
  status.breaker = breaker_.state(now);
  status.consecutive_failures = breaker_.consecutive_failures();
  status.backoff_until = backoff_.blocked_until(now);
  if (status.breaker == BreakerState::Open) {
    status.breaker_open_until = breaker_.open_until();
  }
  status.queued = queue_.size();
  return status;
}

void KdsFetcher::wake() {
  {
    std::lock_guard lock(mutex_);
    ++wakeups_;
  }
  work_cv_.notify_all();
}

bool KdsFetcher::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_cv_.wait_for(lock, timeout, [this] {
    return queue_.empty() && !worker_busy_ && !crl_runnable_locked(clock_->now());
  });
}

void KdsFetcher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const SystemTime now = clock_->now();
    SystemTime crl_due{};
    const auto crl = next_crl_locked(now, crl_due);
    if (queue_.empty() && !(crl && crl_due <= now)) {
      worker_busy_ = false;
      idle_cv_.notify_all();
      const auto seen = wakeups_;
      const auto woken = [this, seen] { return stop_ || !queue_.empty() || wakeups_ != seen; };
      if (crl) {
        work_cv_.wait_for(lock, wait_time(crl_due - now), woken);
      } else {
        work_cv_.wait(lock, woken);
      }
      continue;
    }
    // Nothing is sent while backing off or while the circuit is open: the queued fetches and
    // due CRLs wait for the deadline (or a wake()).
    if (const auto blocked = blocked_until_locked(now)) {
      worker_busy_ = false;
      idle_cv_.notify_all();
      const auto seen = wakeups_;
      work_cv_.wait_for(lock, wait_time(*blocked - now),
                        [this, seen] { return stop_ || wakeups_ != seen; });
      continue;
    }
    worker_busy_ = true;
    if (!queue_.empty()) {
      // VCEKs first: a peer's handshake is waiting for each; a due CRL is still current.
      const VcekQuery query = queue_.front();
      queue_.pop_front();
      lock.unlock();
      (void)fetch_vcek_now(query);
      lock.lock();
      queued_.erase(vcek_cache_name(query));
      continue;
    }
    const Product product = crl_states_[*crl].product;
    const Signer kind = crl_states_[*crl].kind;
    lock.unlock();
    const auto fetched = fetch_crl_now(product, kind);
    if (fetched) {
      spdlog::debug("AMD KDS: {} {} CRL refreshed", to_string(product), family(kind));
    } else {
      spdlog::warn("AMD KDS: refreshing the {} {} CRL failed, keeping the cached one: {}",
                   to_string(product), family(kind), fetched.error().describe());
    }
    lock.lock();
  }
}

}  // namespace atls::attest::snp
