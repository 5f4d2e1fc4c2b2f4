#pragma once
// Strict JSON parsing for untrusted or operator-supplied documents: syntax errors report their
// byte offset, and duplicate object keys are rejected (nlohmann::json would silently keep the
// last one, which hides mistakes such as two "expected" values for one register).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace atls {

enum class JsonErrc {
  Syntax = 1,
  DuplicateKey,
  TooDeep,
};

ATLS_DECLARE_ERRC(JsonErrc, json_category)

/// Parses `text`; `max_depth` bounds nesting so hostile input cannot exhaust the stack.
Outcome<nlohmann::json> parse_json_strict(std::string_view text, std::size_t max_depth = 64);

/// Short name of a JSON value's type for error messages ("string", "array", ...).
std::string_view json_type_name(const nlohmann::json& value) noexcept;

}  // namespace atls

ATLS_REGISTER_ERRC(atls::JsonErrc);
