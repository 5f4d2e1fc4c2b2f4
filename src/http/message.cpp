#include "http/message.h"

#include <algorithm>

namespace atls::http {

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && is_optional_whitespace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_optional_whitespace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

namespace {

// Stored names are lower-case (add() lowers them), so a lower-case query compares with a plain
// ==. Internal callers pass lower-case literals; another query is lowered once, not per field.
template <class Lookup>
auto with_lower_case(std::string_view name, Lookup lookup) {
  const bool lower =
      std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (lower) {
    return lookup(name);
  }
  const std::string lowered = to_lower(name);
  return lookup(std::string_view(lowered));
}

}  // namespace

Fields::Fields(std::initializer_list<Field> fields) {
  for (const auto& field : fields) {
    add(field.name, field.value);
  }
}

void Fields::add(std::string_view name, std::string_view value) {
  fields_.push_back(Field{to_lower(name), std::string(value)});
}

void Fields::set(std::string_view name, std::string_view value) {
  erase(name);
  add(name, value);
}

std::size_t Fields::erase(std::string_view name) {
  return with_lower_case(name, [this](std::string_view lower) {
    return std::erase_if(fields_, [lower](const Field& f) { return f.name == lower; });
  });
}

std::optional<std::string_view> Fields::get(std::string_view name) const {
  return with_lower_case(name, [this](std::string_view lower) -> std::optional<std::string_view> {
    for (const auto& field : fields_) {
      if (field.name == lower) {
        return std::string_view(field.value);
      }
    }
    return std::nullopt;
  });
}

bool Fields::has_token(std::string_view name, std::string_view token) const {
  return with_lower_case(
      name, [this, token](std::string_view lower) { return has_token_lower(lower, token); });
}

bool Fields::has_token_lower(std::string_view name, std::string_view token) const {
  for (const auto& field : fields_) {
    if (field.name != name) {
      continue;
    }
    std::string_view rest = field.value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view element = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
        element.remove_prefix(1);
      }
      while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
        element.remove_suffix(1);
      }
      // Parameters (";q=...") are not part of the token.
      element = element.substr(0, element.find(';'));
      while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
        element.remove_suffix(1);
      }
      if (iequals(element, token)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace atls::http
