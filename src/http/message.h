#pragma once
// Version-independent HTTP message heads (RFC 9110 §6). Both the HTTP/1.1 codec and the HTTP/2
// session translate to and from these, so that proxying logic never sees wire syntax.
//
// Field names are stored lower-case (HTTP/2 requires it on the wire, RFC 9113 §8.2.1; HTTP/1.1
// names are case-insensitive, RFC 9110 §5.1). Order is preserved, and repeated fields stay
// separate entries.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atls::http {

struct Field {
  std::string name;  ///< lower-case
  std::string value;

  bool operator==(const Field&) const = default;
};

class Fields {
 public:
  Fields() = default;
  Fields(std::initializer_list<Field> fields);

  /// Appends a field; `name` is lower-cased.
  void add(std::string_view name, std::string_view value);
  /// Removes every field named `name` and appends one with `value`.
  void set(std::string_view name, std::string_view value);
  /// Removes every field named `name` (case-insensitive); returns how many were removed.
  std::size_t erase(std::string_view name);
  /// Removes every field for which `drop(field)` holds, in one pass; returns how many.
  template <class Predicate>
  std::size_t erase_if(Predicate drop) {
    return std::erase_if(fields_, drop);
  }
  /// The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  /// Whether any comma-separated element of any `name` field equals `token` (case-insensitive),
  /// as for Connection, Upgrade, TE, Expect (RFC 9110 §5.6.1).
  bool has_token(std::string_view name, std::string_view token) const;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }
  void reserve(std::size_t n) { fields_.reserve(n); }
  void clear() noexcept { fields_.clear(); }
  bool operator==(const Fields&) const = default;

 private:
  bool has_token_lower(std::string_view name, std::string_view token) const;

  std::vector<Field> fields_;
};

enum class Version { Http10, Http11, Http2 };

struct RequestHead {
  std::string method;
  /// "http" or "https" (HTTP/2 :scheme); empty for HTTP/1.x requests.
  std::string scheme;
  /// HTTP/2 :authority or the host of an absolute-form HTTP/1.1 target; empty when absent.
  std::string authority;
  /// Origin-form path and query ("/a?b"), "*" for OPTIONS, or host:port for CONNECT.
  std::string target;
  /// RFC 8441 extended CONNECT :protocol ("websocket"); empty otherwise.
  std::string protocol;
  Fields headers;
  Version version = Version::Http11;
  /// Declared body length; nullopt when the body is chunked, tunnelled or absent.
  std::optional<std::uint64_t> content_length;
  /// Whether a body follows the head (false for e.g. a GET without content).
  bool has_body = false;
};

struct ResponseHead {
  int status = 200;
  std::string reason;  ///< HTTP/1.x reason phrase (informational only)
  Fields headers;
  Version version = Version::Http11;
  std::optional<std::uint64_t> content_length;
  bool has_body = true;
};

namespace detail {
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> table{};
  for (std::size_t c = '0'; c <= '9'; ++c) {
    table[c] = true;
  }
  for (std::size_t c = 'a'; c <= 'z'; ++c) {
    table[c] = true;
    table[c - 'a' + 'A'] = true;
  }
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}
inline constexpr std::array<bool, 256> kTokenChars = make_token_table();
}  // namespace detail

/// tchar (RFC 9110 §5.6.2): the characters of a token such as a field name or a method. A
/// table lookup: every field name of every message is checked with it.
constexpr bool is_token_char(char c) noexcept {
  return detail::kTokenChars[static_cast<unsigned char>(c)];
}

/// Whether `text` is a token (1*tchar): a field name, a method.
constexpr bool is_token(std::string_view text) noexcept {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (!is_token_char(c)) {
      return false;
    }
  }
  return true;
}

/// OWS (RFC 9110 §5.6.3): a space or a horizontal tab.
constexpr bool is_optional_whitespace(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// `text` without leading and trailing OWS.
std::string_view trim_ows(std::string_view text) noexcept;

/// Lower-cases ASCII letters.
std::string to_lower(std::string_view text);

/// ASCII case-insensitive comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace atls::http
