#include "attest/claims.h"

#include <nlohmann/json.hpp>

namespace atls::attest {

std::string measurements_to_json(const Measurements& measurements) {
  // nlohmann::json objects sort keys lexicographically ("10" < "2"); build the text by hand to
  // keep numeric order.
  std::string out = "{";
  bool first = true;
  for (const auto& [index, value] : measurements) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += '"';
    out += std::to_string(index);
    out += "\":\"";
    out += to_hex(value);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace atls::attest
