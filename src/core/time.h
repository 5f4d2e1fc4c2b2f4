#pragma once
// RFC 3339 timestamps for operator input (`verify --at`) and output.

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace atls {

/// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" (also a space for 'T', lower-case 'z');
/// a plain integer is taken as Unix seconds. nullopt on anything else.
std::optional<SystemTime> parse_rfc3339(std::string_view text);

/// "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds).
std::string format_rfc3339(SystemTime time);

}  // namespace atls
