#include "attest/collateral/http_policy.h"

#include <array>
#include <cstdint>
#include <string>

#include "attest/collateral/errors.h"

namespace atls::attest::collateral {
namespace {

constexpr std::int64_t kMaxDelaySeconds = 10LL * 366 * 24 * 3600;

constexpr std::array<std::string_view, 7> kDays{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

/// A cursor over the date text; every read checks the remaining length.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) {
      return false;
    }
    text_.remove_prefix(expected.size());
    return true;
  }
  /// Exactly `count` digits.
  bool number(std::size_t count, int& out) {
    if (text_.size() < count) {
      return false;
    }
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!is_digit(text_[i])) {
        return false;
      }
      value = value * 10 + (text_[i] - '0');
    }
    out = value;
    text_.remove_prefix(count);
    return true;
  }
  /// One of `names`; its index.
  template <std::size_t N>
  bool name(const std::array<std::string_view, N>& names, int& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  /// "HH:MM:SS"
  bool time_of_day(int& hour, int& minute, int& second) {
    return number(2, hour) && literal(":") && number(2, minute) && literal(":") &&
           number(2, second);
  }
  bool done() const { return text_.empty(); }

 private:
  std::string_view text_;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t year, std::int64_t month, std::int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t yoe = year - era * 400;
  const std::int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

std::optional<SystemTime> make_time(int year, int month_index, int day, int hour, int minute,
                                    int second) {
  static constexpr std::array<int, 12> kDaysIn{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int days_in_month =
      kDaysIn[static_cast<std::size_t>(month_index)] + (month_index == 1 && leap(year) ? 1 : 0);
  // system_clock counts nanoseconds in 64 bits: it spans 1678..2262 only. A date outside a
  // generous window is treated as unparseable rather than overflowing.
  if (year < 1900 || year > 2200) {
    return std::nullopt;
  }
  // RFC 9110 allows a leap second (60).
  if (day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::int64_t days = days_from_civil(year, month_index + 1, day);
  return SystemTime(std::chrono::days(days) + std::chrono::hours(hour) +
                    std::chrono::minutes(minute) + std::chrono::seconds(second));
}

}  // namespace

std::optional<SystemTime> parse_http_date(std::string_view value) {
  value = trim(value);
  int weekday = 0;
  int day = 0;
  int month = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Cursor c(value);
    if (c.name(kDays, weekday) && c.literal(", ") && c.number(2, day) && c.literal(" ") &&
        c.name(kMonths, month) && c.literal(" ") && c.number(4, year) && c.literal(" ") &&
        c.time_of_day(hour, minute, second) && c.literal(" GMT") && c.done()) {
      return make_time(year, month, day, hour, minute, second);
    }
  }
  {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year that would be more than 50
    // years in the future means the past century (RFC 9110 §5.6.7); taken relative to 2000.
    Cursor c(value);
    int short_year = 0;
    if (c.name(kLongDays, weekday) && c.literal(", ") && c.number(2, day) && c.literal("-") &&
        c.name(kMonths, month) && c.literal("-") && c.number(2, short_year) && c.literal(" ") &&
        c.time_of_day(hour, minute, second) && c.literal(" GMT") && c.done()) {
      return make_time(short_year < 70 ? 2000 + short_year : 1900 + short_year, month, day, hour,
                       minute, second);
    }
  }
  {
    // asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space).
    Cursor c(value);
    if (c.name(kDays, weekday) && c.literal(" ") && c.name(kMonths, month) && c.literal(" ")) {
      bool ok = false;
      if (c.literal(" ")) {
        ok = c.number(1, day);
      } else {
        ok = c.number(2, day);
      }
      if (ok && c.literal(" ") && c.time_of_day(hour, minute, second) && c.literal(" ") &&
          c.number(4, year) && c.done()) {
        return make_time(year, month, day, hour, minute, second);
      }
    }
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime now) {
  value = trim(value);
  if (value.empty()) {
    return std::nullopt;
  }
  if (is_digit(value.front())) {
    std::int64_t seconds = 0;
    for (const char c : value) {
      if (!is_digit(c)) {
        return std::nullopt;
      }
      seconds = std::min<std::int64_t>(seconds * 10 + (c - '0'), kMaxDelaySeconds);
    }
    return std::chrono::seconds(seconds);
  }
  const auto date = parse_http_date(value);
  if (!date) {
    return std::nullopt;
  }
  if (*date <= now) {
    return std::chrono::seconds(0);
  }
  const auto delay = std::chrono::duration_cast<std::chrono::seconds>(*date - now);
  return std::min(delay, std::chrono::seconds(kMaxDelaySeconds));
}

ResponseClass classify_response(const net::HttpResponse& response, SystemTime now) {
  ResponseClass out;
  const unsigned status = response.status;
  if (status >= 200 && status <= 299) {
    return out;
  }
  const std::string detail = "HTTP " + std::to_string(status);
  if (status == 404) {
    out.failure = Failure{make_error_code(Errc::NotFound), detail};
  } else if (status == 429) {
    out.failure = Failure{make_error_code(Errc::RateLimited), detail};
    out.upstream_failure = true;
  } else if (status >= 500 && status <= 599) {
    out.failure = Failure{make_error_code(Errc::ServerError), detail};
    out.upstream_failure = true;
  } else {
    out.failure = Failure{make_error_code(Errc::HttpStatus), detail};
  }
  if (status == 429 || status == 503) {
    if (const auto header = response.header("Retry-After")) {
      out.retry_after = parse_retry_after(*header, now);
    }
  }
  return out;
}

}  // namespace atls::attest::collateral
