#include "sts/form.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "sts/errors.h"

namespace atls::sts {
namespace {

Failure malformed(std::string detail) {
  return Failure{make_error_code(Errc::FormMalformed), std::move(detail)};
}

Outcome<std::string> decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) {
        return malformed("truncated percent-escape");
      }
      const int high = hex_digit_value(text[i + 1]);
      const int low = hex_digit_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return malformed("invalid percent-escape");
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Outcome<std::optional<std::string>> Form::single(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [key, value] : pairs_) {
    if (key != name) {
      continue;
    }
    if (found) {
      return malformed(fmt::format("parameter {} appears more than once", name));
    }
    found = value;
  }
  if (found && found->empty()) {
    return std::optional<std::string>{};
  }
  return found;
}

std::vector<std::string> Form::all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : pairs_) {
    if (key == name && !value.empty()) {
      values.push_back(value);
    }
  }
  return values;
}

Outcome<Form> parse_form(std::string_view body, const FormLimits& limits) {
  if (body.size() > limits.max_bytes) {
    return malformed(fmt::format("body larger than {} bytes", limits.max_bytes));
  }
  std::vector<Form::Pair> pairs;
  std::size_t start = 0;
  while (start <= body.size()) {
    const std::size_t end = std::min(body.find('&', start), body.size());
    const std::string_view segment = body.substr(start, end - start);
    start = end + 1;
    if (segment.empty()) {
      continue;  // "a=1&&b=2" and a trailing '&' carry no pair
    }
    if (pairs.size() == limits.max_pairs) {
      return malformed(fmt::format("more than {} parameters", limits.max_pairs));
    }
    const std::size_t equals = segment.find('=');
    auto name = decode_component(segment.substr(0, equals));
    if (!name) {
      return name.error();
    }
    if (name->empty()) {
      return malformed("parameter without a name");
    }
    auto value = decode_component(equals == std::string_view::npos ? std::string_view{}
                                                                   : segment.substr(equals + 1));
    if (!value) {
      return value.error();
    }
    pairs.emplace_back(std::move(*name), std::move(*value));
  }
  return Form(std::move(pairs));
}

std::string form_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

}  // namespace atls::sts
