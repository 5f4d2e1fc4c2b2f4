#pragma once
// application/x-www-form-urlencoded bodies, as OAuth token requests send them (RFC 6749 §3.2,
// Appendix B; the serialization of the WHATWG URL Standard §5: '&'-separated name=value pairs,
// '+' for space, %XX escapes).
//
// Parsing is strict where leniency would hide a broken or hostile client: a '%' not followed by
// two hex digits, a name that is empty, too many pairs or too many bytes are errors
// (sts.form_malformed) rather than being passed through. RFC 6749 §3.2: "Request and response
// parameters MUST NOT be included more than once" — except the ones RFC 8693 §2.1 lets repeat
// (resource, audience), which `all()` returns in order.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace atls::sts {

struct FormLimits {
  std::size_t max_bytes = std::size_t{256} * 1024;
  std::size_t max_pairs = 64;
};

class Form {
 public:
  using Pair = std::pair<std::string, std::string>;

  explicit Form(std::vector<Pair> pairs) : pairs_(std::move(pairs)) {}

  /// The value of a parameter that may appear at most once: nullopt when absent, an empty value
  /// counts as absent (RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if
  /// they were omitted"); sts.form_malformed when repeated.
  Outcome<std::optional<std::string>> single(std::string_view name) const;
  /// Every non-empty value of a repeatable parameter, in request order.
  std::vector<std::string> all(std::string_view name) const;
  const std::vector<Pair>& pairs() const noexcept { return pairs_; }

 private:
  std::vector<Pair> pairs_;
};

/// Parses `body`. Errors: sts.form_malformed, with the reason in the detail (never the value).
Outcome<Form> parse_form(std::string_view body, const FormLimits& limits = {});

/// Encodes one name or value (unreserved characters kept, space as '+', everything else %XX).
std::string form_encode(std::string_view text);

}  // namespace atls::sts
