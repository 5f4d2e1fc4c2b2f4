#include "attest/collateral/upstream.h"

#include "attest/collateral/errors.h"
#include "attest/collateral/http_policy.h"
#include "core/time.h"

namespace atls::attest::collateral {

Upstream::Upstream(FetcherPtr fetcher, std::shared_ptr<const Clock> clock, UpstreamOptions options)
    : fetcher_(std::move(fetcher)),
      clock_(std::move(clock)),
      options_(options),
      breaker_(options.breaker) {}

bool Upstream::available() const {
  std::lock_guard lock(mutex_);
  const SystemTime now = clock_->now();
  return (!hold_off_until_ || now >= *hold_off_until_) && breaker_.would_allow(now);
}

BreakerState Upstream::breaker_state() const {
  std::lock_guard lock(mutex_);
  return breaker_.state(clock_->now());
}

UpstreamSnapshot Upstream::snapshot() const {
  std::lock_guard lock(mutex_);
  const SystemTime now = clock_->now();
  UpstreamSnapshot out = counters_;
  out.breaker = breaker_.state(now);
  out.consecutive_failures = breaker_.consecutive_failures();
  out.opened_at = breaker_.opened_at();
  out.times_opened = breaker_.times_opened();
  if (hold_off_until_ && *hold_off_until_ > now) {
    out.hold_off_until = hold_off_until_;
  }
  return out;
}

Outcome<net::HttpResponse> Upstream::get(const std::string& url) {
  std::unique_lock lock(mutex_);
  const SystemTime now = clock_->now();
  if (const auto it = reusable_.find(url); it != reusable_.end()) {
    if (now >= it->second.at && now < it->second.at + options_.reuse_window) {
      ++counters_.requests_shared;
      return it->second.response;
    }
    reusable_.erase(it);
  }
  if (const auto it = flights_.find(url); it != flights_.end()) {
    // Single flight: wait for the identical request and share its outcome.
    const auto flight = it->second;
    ++counters_.requests_shared;
    done_.wait(lock, [&flight] { return flight->done; });
    return flight->result;
  }
  if (hold_off_until_ && now < *hold_off_until_) {
    ++counters_.requests_refused;
    return Failure{make_error_code(Errc::RateLimited),
                   "holding off until " + format_rfc3339(*hold_off_until_) + " (Retry-After)"};
  }
  if (!breaker_.try_acquire(now)) {
    ++counters_.requests_refused;
    const auto opened = breaker_.opened_at();
    return Failure{make_error_code(Errc::CircuitOpen),
                   "opened at " + (opened ? format_rfc3339(*opened) : std::string("?")) +
                       " after " + std::to_string(breaker_.consecutive_failures()) +
                       " consecutive failures"};
  }
  auto flight = std::make_shared<Flight>();
  flights_[url] = flight;
  ++counters_.requests_sent;
  lock.unlock();

  auto result = send(url);

  lock.lock();
  flight->result = result;
  flight->done = true;
  flights_.erase(url);
  if (result && options_.reuse_window.count() > 0) {
    reusable_[url] = Reusable{clock_->now(), *result};
    // Bounded: entries older than the window are dropped here (keys are a small fixed set).
    std::erase_if(reusable_, [&](const auto& entry) {
      return clock_->now() >= entry.second.at + options_.reuse_window;
    });
  }
  lock.unlock();
  done_.notify_all();
  return result;
}

Outcome<net::HttpResponse> Upstream::send(const std::string& url) {
  auto response = fetcher_->get(url);
  const SystemTime now = clock_->now();
  std::lock_guard lock(mutex_);
  if (!response) {
    ++counters_.requests_failed;
    breaker_.on_failure(now);
    return Failure{make_error_code(Errc::FetchFailed), url + ": " + response.error().describe()};
  }
  const ResponseClass kind = classify_response(*response, now);
  if (!kind.failure) {
    breaker_.on_success();
    return std::move(*response);
  }
  ++counters_.requests_failed;
  if (kind.upstream_failure) {
    breaker_.on_failure(now);
  } else {
    breaker_.on_success();
  }
  const bool rate_limited = kind.failure->code == make_error_code(Errc::RateLimited);
  if (rate_limited || kind.retry_after) {
    auto delay = kind.retry_after.value_or(options_.default_hold_off);
    delay = std::min(delay, options_.max_hold_off);
    const SystemTime until = now + delay;
    if (!hold_off_until_ || until > *hold_off_until_) {
      hold_off_until_ = until;
    }
  }
  Failure failure = *kind.failure;
  failure.detail = url + ": " + failure.detail;
  if (kind.retry_after) {
    failure.detail += " (Retry-After " + std::to_string(kind.retry_after->count()) + " s)";
  }
  return failure;
}

}  // namespace atls::attest::collateral
