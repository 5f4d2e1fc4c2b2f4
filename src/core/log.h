#pragma once
// Process-wide logging on stderr through spdlog: human-readable by default, one JSON object per
// line with --log-json. Messages never contain secrets (keys, tokens, passwords).

#include <spdlog/spdlog.h>

namespace atls {

struct LogOptions {
  bool debug = false;  ///< --log-debug: debug level (default: info)
  bool json = false;   ///< --log-json
};

void init_logging(const LogOptions& options);

/// Escapes `text` for inclusion in a JSON string literal.
std::string json_escape(std::string_view text);

}  // namespace atls
