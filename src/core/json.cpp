#include "core/json.h"

#include <array>
#include <set>
#include <vector>

namespace atls {
namespace {

constexpr std::array kTable{
    errc_row(JsonErrc::Syntax, "syntax", "malformed JSON"),
    errc_row(JsonErrc::DuplicateKey, "duplicate_key", "duplicate key in JSON object"),
    errc_row(JsonErrc::TooDeep, "too_deep", "JSON nesting too deep"),
};

const NamedCategory kCategory{"json", kTable};

}  // namespace

const NamedCategory& json_category() noexcept {
  return kCategory;
}

Outcome<nlohmann::json> parse_json_strict(std::string_view text, std::size_t max_depth) {
  using nlohmann::json;
  std::vector<std::set<std::string>> open_objects;
  std::size_t depth = 0;
  std::string duplicate;
  bool too_deep = false;
  auto callback = [&](int /*callback_depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); [[fallthrough]];
      case json::parse_event_t::array_start:
        if (++depth > max_depth) {
          too_deep = true;
        }
        break;
      case json::parse_event_t::object_end: open_objects.pop_back(); [[fallthrough]];
      case json::parse_event_t::array_end: --depth; break;
      case json::parse_event_t::key:
        if (!open_objects.empty() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      case json::parse_event_t::value: break;
    }
    // Once the depth limit is hit, stop building values so memory stays bounded.
    return !too_deep;
  };
  json parsed;
  try {
    parsed = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                         /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    if (too_deep) {
      return Failure{make_error_code(JsonErrc::TooDeep), ""};
    }
    return Failure{make_error_code(JsonErrc::Syntax),
                   "at byte " + std::to_string(e.byte) + ": " + e.what()};
  } catch (const json::exception& e) {
    return Failure{make_error_code(JsonErrc::Syntax), e.what()};
  }
  if (too_deep) {
    return Failure{make_error_code(JsonErrc::TooDeep), ""};
  }
  if (!duplicate.empty()) {
    return Failure{make_error_code(JsonErrc::DuplicateKey), "key \"" + duplicate + "\""};
  }
  return parsed;
}

std::string_view json_type_name(const nlohmann::json& value) noexcept {
  return value.type_name();
}

}  // namespace atls
