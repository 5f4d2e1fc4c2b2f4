#include "http/h1_parser.h"

#include <algorithm>
#include <limits>

#include "core/bytes.h"

namespace atls::http::h1 {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kHeadEnd = "\r\n\r\n";
// Chunk extensions carry nothing the proxy uses; bound them like a header line would be.
constexpr std::size_t kMaxChunkExtensionBytes = 4096;

// field-vchar / SP / HTAB (RFC 9110 §5.5); obs-text is allowed, controls (CR, LF, NUL) are not.
bool is_field_value_char(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

// Field lines (RFC 9112 §5), each ending in CRLF, into `out`. Returns the reason on failure.
std::optional<std::string_view> parse_field_lines(std::string_view block, Fields& out) {
  while (!block.empty()) {
    const auto end = block.find(kCrlf);
    if (end == std::string_view::npos) {
      return "field line without CRLF";
    }
    const std::string_view line = block.substr(0, end);
    block.remove_prefix(end + kCrlf.size());
    if (line.empty()) {
      return "empty field line";
    }
    if (is_optional_whitespace(line.front())) {
      return "obsolete line folding";  // §5.2: a proxy may reject it
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return "field line without a name";
    }
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) {
      return "invalid field name";  // includes whitespace before the colon (§5.1)
    }
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(),
                     [](char c) { return is_field_value_char(static_cast<unsigned char>(c)); })) {
      return "invalid character in a field value";
    }
    out.add(name, value);
  }
  return std::nullopt;
}

// Content-Length (RFC 9110 §8.6, RFC 9112 §6.3 rule 5): every value, and every element of a
// list value, must be the same decimal number.
std::optional<std::string_view> content_length_of(const Fields& fields,
                                                  std::optional<std::uint64_t>& out) {
  for (const auto& field : fields) {
    if (field.name != "content-length") {
      continue;
    }
    std::string_view rest = field.value;
    do {
      const auto comma = rest.find(',');
      const std::string_view element = trim_ows(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (element.empty()) {
        return "empty Content-Length";
      }
      std::uint64_t value = 0;
      for (const char c : element) {
        if (c < '0' || c > '9') {
          return "non-numeric Content-Length";
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          return "Content-Length overflows";
        }
        value = value * 10 + digit;
      }
      if (out && *out != value) {
        return "conflicting Content-Length values";
      }
      out = value;
    } while (!rest.empty());
  }
  return std::nullopt;
}

// Transfer-Encoding: only `chunked`, once (see the header on other codings). Sets `present`
// when the field exists at all.
std::optional<std::string_view> check_transfer_encoding(const Fields& fields, bool& present) {
  std::size_t chunked = 0;
  for (const auto& field : fields) {
    if (field.name != "transfer-encoding") {
      continue;
    }
    present = true;
    std::string_view rest = field.value;
    do {
      const auto comma = rest.find(',');
      const std::string_view coding = trim_ows(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (coding.empty()) {
        continue;  // empty list elements are allowed (RFC 9110 §5.6.1.2)
      }
      if (!iequals(coding, "chunked")) {
        return "unsupported transfer coding";
      }
      ++chunked;
    } while (!rest.empty());
  }
  if (present && chunked != 1) {
    return chunked == 0 ? "empty Transfer-Encoding" : "chunked applied more than once";
  }
  return std::nullopt;
}

HeadParse invalid(std::string_view why) {
  return HeadParse{ParseStatus::Invalid, 0, why};
}

// Where the head that starts in `data` ends (after its empty line), if it is all there and
// within `max_bytes`: Complete with `consumed`, Incomplete, or TooLarge.
HeadParse find_head_end(std::string_view data, std::size_t from, std::size_t max_bytes) {
  const auto end = data.substr(0, max_bytes).find(kHeadEnd, from);
  if (end == std::string_view::npos) {
    return HeadParse{
        data.size() >= max_bytes ? ParseStatus::TooLarge : ParseStatus::Incomplete, 0, {}};
  }
  const std::size_t consumed = end + kHeadEnd.size();
  if (consumed > max_bytes) {
    return HeadParse{ParseStatus::TooLarge, 0, {}};
  }
  return HeadParse{ParseStatus::Complete, consumed, {}};
}

// The field section of a head (both directions): fields, then what they say about framing
// (RFC 9112 §6.1, §6.3) and persistence (§9.3).
std::optional<std::string_view> parse_field_section(std::string_view block, Version version,
                                                    Fields& fields,
                                                    std::optional<std::uint64_t>& content_length,
                                                    bool& chunked, bool& keep_alive) {
  fields.reserve(12);
  if (auto error = parse_field_lines(block, fields)) {
    return error;
  }
  if (auto error = content_length_of(fields, content_length)) {
    return error;
  }
  bool has_transfer_encoding = false;
  if (auto error = check_transfer_encoding(fields, has_transfer_encoding)) {
    return error;
  }
  chunked = false;
  if (has_transfer_encoding) {
    if (content_length) {
      return "both Transfer-Encoding and Content-Length";  // §6.3 rule 3: a smuggling signal
    }
    if (version == Version::Http10) {
      return "Transfer-Encoding in an HTTP/1.0 message";  // §6.1
    }
    chunked = true;
  }
  keep_alive = version == Version::Http11 ? !fields.has_token("connection", "close")
                                          : fields.has_token("connection", "keep-alive");
  return std::nullopt;
}

// request-target characters: anything visible (RFC 9112 §3.2; octets above 0x7f are passed
// on, as clients send raw UTF-8 paths), never whitespace or controls.
bool is_target_char(unsigned char c) noexcept {
  return c > 0x20 && c != 0x7f;
}

// Splits the request-target into the head's target (origin-form path, "*", or authority-form
// for CONNECT) and, for absolute-form, its authority and scheme (RFC 9112 §3.2.1–§3.2.4).
void set_request_target(RequestHead& head, std::string_view target) {
  if (head.method == "CONNECT") {
    head.authority = std::string(target);  // authority-form
    head.target = std::string(target);
    return;
  }
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      const std::string_view rest = target.substr(scheme.size());
      const auto slash = rest.find_first_of("/?");
      head.authority = std::string(rest.substr(0, slash));
      head.target = slash == std::string_view::npos ? "/"
                    : rest[slash] == '?'            ? "/" + std::string(rest.substr(slash))
                                                    : std::string(rest.substr(slash));
      head.scheme = std::string(scheme.substr(0, scheme.size() - 3));
      return;
    }
  }
  head.target = std::string(target);
}

}  // namespace

HeadParse parse_response_head(std::string_view data, std::size_t max_bytes, ParsedResponse& out) {
  // Fail fast on what cannot become a status line, rather than waiting for max_bytes of it.
  constexpr std::string_view kPrefix = "HTTP/";
  if (data.substr(0, kPrefix.size()) != kPrefix.substr(0, std::min(data.size(), kPrefix.size()))) {
    return invalid("not an HTTP/1.x status line");
  }
  const auto bounds = find_head_end(data, 0, max_bytes);
  if (bounds.status != ParseStatus::Complete) {
    return bounds;
  }
  const std::size_t consumed = bounds.consumed;
  const std::size_t end = consumed - kHeadEnd.size();

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
  const auto line_end = data.find(kCrlf);
  const std::string_view line = data.substr(0, line_end);
  if (line.size() < 12 || line[5] != '1' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ') {
    return invalid("not an HTTP/1.x status line");
  }
  out = ParsedResponse{};
  ResponseHead& head = out.head;
  // A higher minor version is answered as the highest we speak (RFC 9110 §2.5).
  head.version = line[7] == '0' ? Version::Http10 : Version::Http11;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      return invalid("status code is not three digits");
    }
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || status > 599) {
    return invalid("status code out of range");  // RFC 9110 §15
  }
  head.status = status;
  if (line.size() > 12) {
    // Servers that omit the reason often omit its separator too; both forms are accepted.
    if (line[12] != ' ') {
      return invalid("status code is not three digits");
    }
    const std::string_view reason = line.substr(13);
    if (!std::all_of(reason.begin(), reason.end(),
                     [](char c) { return is_field_value_char(static_cast<unsigned char>(c)); })) {
      return invalid("invalid character in the reason phrase");
    }
    head.reason = std::string(reason);
  }

  // Field lines: from after the status line up to (and including) the CRLF before the empty line.
  const std::string_view block = data.substr(line_end + kCrlf.size(), end + 2 - line_end - 2);
  if (auto error = parse_field_section(block, head.version, head.headers, head.content_length,
                                       out.chunked, out.keep_alive)) {
    return invalid(*error);
  }
  return HeadParse{ParseStatus::Complete, consumed, {}};
}

HeadParse parse_request_head(std::string_view data, std::size_t max_bytes, ParsedRequest& out) {
  // RFC 9112 §2.2: empty lines before the request-line are ignored.
  std::size_t start = 0;
  while (data.substr(start, kCrlf.size()) == kCrlf) {
    start += kCrlf.size();
  }
  if (start >= max_bytes) {
    return HeadParse{ParseStatus::TooLarge, 0, {}};
  }
  // Fail fast on a method that is not a token (a lone CR may still become an empty line).
  for (std::size_t i = start; i < data.size() && data[i] != ' '; ++i) {
    if (!is_token_char(data[i]) && !(i == start && data[i] == '\r')) {
      return invalid("invalid request method");
    }
  }
  const auto bounds = find_head_end(data, start, max_bytes);
  if (bounds.status != ParseStatus::Complete) {
    return bounds;
  }
  const std::size_t consumed = bounds.consumed;
  const std::size_t end = consumed - kHeadEnd.size();

  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
  const auto line_end = data.find(kCrlf, start);
  const std::string_view line = data.substr(start, line_end - start);
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == 0 || last_space == first_space) {
    return invalid("malformed request line");
  }
  const std::string_view method = line.substr(0, first_space);
  if (!is_token(method)) {
    return invalid("invalid request method");
  }
  const std::string_view target = line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = line.substr(last_space + 1);
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        return is_target_char(static_cast<unsigned char>(c));
      })) {
    return invalid("invalid request target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    return invalid("not an HTTP/1.x request");
  }
  out = ParsedRequest{};
  RequestHead& head = out.head;
  head.method = std::string(method);
  head.version = version[7] == '0' ? Version::Http10 : Version::Http11;
  set_request_target(head, target);

  const std::string_view block = data.substr(line_end + kCrlf.size(), end + 2 - line_end - 2);
  if (auto error = parse_field_section(block, head.version, head.headers, head.content_length,
                                       out.chunked, out.keep_alive)) {
    return invalid(*error);
  }
  // RFC 9112 §3.2: more than one Host is answered with 400 (which one would the target see?).
  std::size_t hosts = 0;
  for (const auto& field : head.headers) {
    hosts += field.name == "host" ? 1 : 0;
  }
  if (hosts > 1) {
    return invalid("more than one Host field");
  }
  return HeadParse{ParseStatus::Complete, consumed, {}};
}

Framing request_framing(const ParsedRequest& request) {
  // RFC 9112 §6.3 rules 4-6: chunked, Content-Length, or no content at all.
  if (request.chunked) {
    return Framing::Chunked;
  }
  if (request.head.content_length.value_or(0) > 0) {
    return Framing::ContentLength;
  }
  return Framing::None;
}

Framing response_framing(std::string_view request_method, const ParsedResponse& response) {
  const int status = response.head.status;
  if (status == 101 || (request_method == "CONNECT" && status >= 200 && status < 300)) {
    return Framing::Tunnel;
  }
  // RFC 9112 §6.3 rule 1.
  if (request_method == "HEAD" || status < 200 || status == 204 || status == 304) {
    return Framing::None;
  }
  if (response.chunked) {
    return Framing::Chunked;
  }
  if (response.head.content_length) {
    return Framing::ContentLength;
  }
  return Framing::CloseDelimited;  // rule 8
}

BodyDecoder::BodyDecoder(Framing framing, std::uint64_t content_length,
                         std::size_t max_trailer_bytes)
    : max_trailer_bytes_(max_trailer_bytes) {
  switch (framing) {
    case Framing::ContentLength:
      remaining_ = content_length;
      state_ = content_length == 0 ? State::Done : State::Length;
      break;
    case Framing::Chunked: state_ = State::ChunkSize; break;
    case Framing::CloseDelimited:
    case Framing::Tunnel: state_ = State::UntilClose; break;
    case Framing::None: state_ = State::Done; break;
  }
}

BodyDecoder::Step BodyDecoder::fail(std::string_view why, std::size_t consumed) {
  state_ = State::Failed;
  error_ = why;
  return Step{consumed, {}};
}

void BodyDecoder::finish_trailers() {
  // trailer_text_ ends with the empty line; the field lines are what precedes it.
  const std::string_view block(trailer_text_.data(), trailer_text_.size() - kCrlf.size());
  if (auto error = parse_field_lines(block, trailers_)) {
    state_ = State::Failed;
    error_ = *error;
    return;
  }
  trailer_text_.clear();
  state_ = State::Done;
}

BodyDecoder::Step BodyDecoder::next(ByteView input) {
  if (state_ == State::Length) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
    remaining_ -= n;
    if (remaining_ == 0) {
      state_ = State::Done;
    }
    return Step{n, input.first(n)};
  }
  if (state_ == State::UntilClose) {
    return Step{input.size(), input};
  }
  // Chunked framing (RFC 9112 §7.1), one octet at a time outside chunk data.
  std::size_t i = 0;
  while (i < input.size()) {
    const char c = static_cast<char>(input[i]);
    switch (state_) {
      case State::ChunkSize: {
        const int digit = hex_digit_value(c);
        if (digit >= 0) {
          if (remaining_ > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
            return fail("chunk size overflows", i);
          }
          remaining_ = (remaining_ << 4) | static_cast<std::uint64_t>(digit);
          ++size_digits_;
          break;
        }
        if (size_digits_ == 0) {
          return fail("chunk size expected", i);
        }
        if (c == '\r') {
          state_ = State::ChunkSizeLf;
        } else if (c == ';' || is_optional_whitespace(c)) {
          state_ = State::ChunkExt;
          ext_bytes_ = 0;
          ext_started_ = c == ';';
        } else {
          return fail("invalid chunk size", i);
        }
        break;
      }
      case State::ChunkExt:
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): skipped, but only
        // after a ";", and bounded.
        if (++ext_bytes_ > kMaxChunkExtensionBytes) {
          return fail("chunk extensions too long", i);
        }
        if (c == '\r') {
          if (!ext_started_) {
            return fail("invalid chunk size", i);
          }
          state_ = State::ChunkSizeLf;
        } else if (c == ';') {
          ext_started_ = true;
        } else if (!ext_started_ ? !is_optional_whitespace(c)
                                 : !is_field_value_char(static_cast<unsigned char>(c))) {
          return fail("invalid chunk extension", i);
        }
        break;
      case State::ChunkSizeLf:
        if (c != '\n') {
          return fail("chunk size line without LF", i);
        }
        size_digits_ = 0;
        state_ = remaining_ == 0 ? State::Trailer : State::ChunkData;
        break;
      case State::ChunkData: {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - i));
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = State::ChunkDataCr;
        }
        return Step{i + n, input.subspan(i, n)};
      }
      case State::ChunkDataCr:
        if (c != '\r') {
          return fail("chunk data longer than its size", i);
        }
        state_ = State::ChunkDataLf;
        break;
      case State::ChunkDataLf:
        if (c != '\n') {
          return fail("chunk data without CRLF", i);
        }
        state_ = State::ChunkSize;
        break;
      case State::Trailer:
        trailer_text_.push_back(c);
        if (trailer_text_.size() > max_trailer_bytes_) {
          return fail("trailer section too large", i);
        }
        if (trailer_text_ == kCrlf) {
          trailer_text_.clear();
          state_ = State::Done;
          return Step{i + 1, {}};
        }
        if (trailer_text_.ends_with(kHeadEnd)) {
          finish_trailers();  // Done or Failed
          return Step{i + 1, {}};
        }
        break;
      case State::Length:
      case State::UntilClose:
      case State::Done:
      case State::Failed: return Step{i, {}};
    }
    ++i;
  }
  return Step{i, {}};
}

bool BodyDecoder::end_of_input() {
  if (state_ == State::UntilClose) {
    state_ = State::Done;
  }
  if (state_ == State::Done) {
    return true;
  }
  if (state_ != State::Failed) {
    state_ = State::Failed;
    error_ = "connection closed before the body ended";
  }
  return false;
}

}  // namespace atls::http::h1
