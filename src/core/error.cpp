#include "core/error.h"

#include <fmt/format.h>

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace atls {

std::string NamedCategory::message(int value) const {
  for (const auto& row : table_) {
    if (row.value == value) {
      return std::string(row.message);
    }
  }
  return fmt::format("unknown {} error {}", module_, value);
}

std::string_view NamedCategory::code_name(int value) const noexcept {
  for (const auto& row : table_) {
    if (row.value == value) {
      return row.name;
    }
  }
  return "unknown";
}

std::string error_id(const ErrorCode& ec) {
  if (const auto* named = dynamic_cast<const NamedCategory*>(&ec.category())) {
    return fmt::format("{}.{}", named->name(), named->code_name(ec.value()));
  }
  return fmt::format("{}.{}", ec.category().name(), ec.value());
}

std::string describe(const ErrorCode& ec) {
  return fmt::format("{}: {}", error_id(ec), ec.message());
}

std::string Failure::describe() const {
  if (detail.empty()) {
    return atls::describe(code);
  }
  return fmt::format("{} ({})", atls::describe(code), detail);
}

void throw_exception_from_error(const Failure& failure, const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(failure.code, failure.detail), location);
}

}  // namespace atls
