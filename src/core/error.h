#pragma once
// Named error codes shared by every module.
//
// Each module declares one `enum class Errc` and registers it with `ATLS_DECLARE_ERRC`. Every
// code has a stable snake_case name ("ratls.frame_too_large") that is used verbatim in error
// messages, metric labels and audit records, and a human-readable message. The set of names is
// fixed at compile time, so a metric label built from it is bounded (never peer-controlled).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <span>
#include <string>
#include <string_view>

namespace atls {

template <class T>
using Result = boost::system::result<T, boost::system::error_code>;
using ErrorCode = boost::system::error_code;

/// One row of a module's error table.
struct ErrcInfo {
  int value;
  std::string_view name;     ///< stable identifier, snake_case
  std::string_view message;  ///< human-readable text
};

template <class Enum>
constexpr ErrcInfo errc_row(Enum e, std::string_view name, std::string_view message) noexcept {
  return {static_cast<int>(e), name, message};
}

// boost::system::error_category deliberately has a protected non-virtual destructor
// (categories are never deleted through a base pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
/// Error category backed by a static table of `ErrcInfo`.
class NamedCategory final : public boost::system::error_category {
 public:
  constexpr NamedCategory(const char* module, std::span<const ErrcInfo> table) noexcept
      : module_(module), table_(table) {}

  const char* name() const noexcept override { return module_; }
  std::string message(int value) const override;
  /// The stable name of `value`, or "unknown" if it is not in the table.
  std::string_view code_name(int value) const noexcept;

 private:
  const char* module_;
  std::span<const ErrcInfo> table_;
};
#pragma GCC diagnostic pop

/// An error code plus human context ("record 2, field measurements.rtmr0: ..."). Used where a
/// bare code would hide what the operator needs to fix. `detail` never contains secrets.
struct Failure {
  // A constructor (not an aggregate) so that in-place construction works with clang 14, which
  // lacks C++20 parenthesised aggregate initialisation.
  Failure() = default;
  Failure(ErrorCode error, std::string what = {}) : code(error), detail(std::move(what)) {}

  ErrorCode code;
  std::string detail;

  /// "<error_id>: <message>[ (<detail>)]"
  std::string describe() const;
};

/// Called by boost::system::result<T, Failure>::value() on error (config-loading paths only).
[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& location);

template <class T>
using Outcome = boost::system::result<T, Failure>;

/// Stable identifier of any error code: "<module>.<code_name>" for project categories, and
/// "<category>.<value>" for foreign ones (system, asio, OpenSSL). Suitable as a metric label.
std::string error_id(const ErrorCode& ec);

/// "<error_id>: <message>", for logs and CLI output.
std::string describe(const ErrorCode& ec);

}  // namespace atls

/// Declares `make_error_code(Errc)` and the category accessor for a module's `Errc` enum.
/// Must be used inside the module's namespace; pair with ATLS_REGISTER_ERRC at global scope.
#define ATLS_DECLARE_ERRC(Enum, category_fn)                            \
  const ::atls::NamedCategory& category_fn() noexcept;                  \
  inline ::boost::system::error_code make_error_code(Enum e) noexcept { \
    return {static_cast<int>(e), category_fn()};                        \
  }

#define ATLS_REGISTER_ERRC(QualifiedEnum) \
  template <>                             \
  struct boost::system::is_error_code_enum<QualifiedEnum> : std::true_type {}
