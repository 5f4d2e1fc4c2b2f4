#include "attest/snp/kds_client.h"

#include <algorithm>
#include <array>

#include "attest/snp/amd_certificate.h"
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
  auto fetcher = std::make_shared<KdsFetcher>(std::move(options), std::move(cache),
                                              std::move(transport), std::move(clock));
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
      result = fail(Errc::KdsResponseInvalid, path + ": " + error_id(accepted.error()));
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
  const Validator accept = [this, &query](const std::string& body) -> Result<void> {
    // Validated against the query before it is cached: KDS (or whatever answers at the base
    // URL) must return exactly this chip's VCEK for this TCB.
    return cache_->store_vcek(query, Bytes(body.begin(), body.end()));
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
    return cache_->store_cert_chain(product, kind, body);
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

Outcome<Bytes> KdsFetcher::fetch_crl_now(Product product, Signer kind) {
  const Validator accept = [this, product, kind](const std::string& body) {
    return cache_->store_crl(product, kind, Bytes(body.begin(), body.end()));
  };
  auto body = single_flight("crl:" + family(kind) + ":" + std::string(to_string(product)),
                            kds_crl_path(product, kind), accept);
  if (!body) {
    return body.error();
  }
  return Bytes(body->begin(), body->end());
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
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !worker_busy_; });
}

void KdsFetcher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (queue_.empty()) {
      worker_busy_ = false;
      idle_cv_.notify_all();
      work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      continue;
    }
    // Nothing is sent while backing off or while the circuit is open: the queued fetches wait
    // for the deadline (or a wake()).
    const SystemTime now = clock_->now();
    std::optional<SystemTime> blocked = backoff_.blocked_until(now);
    if (breaker_.state(now) == BreakerState::Open &&
        (!blocked || *breaker_.open_until() > *blocked)) {
      blocked = breaker_.open_until();
    }
    if (blocked) {
      worker_busy_ = false;
      const auto seen = wakeups_;
      const auto wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*blocked - now),
                                   std::chrono::milliseconds(1), std::chrono::milliseconds(60000));
      work_cv_.wait_for(lock, wait, [this, seen] { return stop_ || wakeups_ != seen; });
      continue;
    }
    const VcekQuery query = queue_.front();
    queue_.pop_front();
    worker_busy_ = true;
    lock.unlock();
    (void)fetch_vcek_now(query);
    lock.lock();
    queued_.erase(vcek_cache_name(query));
  }
}

}  // namespace atls::attest::snp
