#include "sts/dpop/dpop.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/bytes.h"
#include "sts/dpop/errors.h"
#include "sts/jose/base64url.h"
#include "sts/jose/errors.h"

namespace atls::sts::dpop {
namespace {

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::int64_t unix_seconds(SystemTime t) noexcept {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// ---- URI syntax (RFC 3986 §2, §3) ----

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) noexcept {
  return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}
bool is_unreserved(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char c) noexcept {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}
char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

// RFC 3986 §6.2.2.1 and §6.2.2.2 on the path: percent-encodings of unreserved characters are
// decoded, the others get upper-case hex. nullopt on a character a path cannot contain or a
// broken percent-encoding.
std::optional<std::string> normalize_percent_encoding(std::string_view path) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
        return std::nullopt;
      }
      const int value = hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]);
      const char decoded = static_cast<char>(value);
      if (value < 0x80 && is_unreserved(decoded)) {
        out += decoded;
      } else {
        out += '%';
        out += kHexDigits[value >> 4];
        out += kHexDigits[value & 0xf];
      }
      i += 2;
    } else if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/') {
      out += c;  // RFC 3986 §3.3 pchar, and the segment separator
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// RFC 3986 §5.2.4 remove_dot_segments for an absolute path (leading '/'), done segment by
// segment so hostile input costs linear time.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> kept;
  bool trailing_slash = false;
  std::string_view rest = path.substr(1);
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (segment == ".") {
      trailing_slash = last;
    } else if (segment == "..") {
      if (!kept.empty()) {
        kept.pop_back();
      }
      trailing_slash = last;
    } else {
      kept.push_back(segment);
      trailing_slash = false;
    }
    if (last) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  std::string out = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) {
      out += '/';
    }
    out += kept[i];
  }
  if (trailing_slash && !kept.empty()) {
    out += '/';
  }
  return out;
}

// Host of an http(s) URI: an IP literal in brackets, or a reg-name/IPv4 address. Percent-encoded
// hosts are refused (no endpoint of this service has one), which keeps host comparison simple.
std::optional<std::string> normalize_host(std::string_view host) {
  if (host.empty()) {
    return std::nullopt;
  }
  std::string_view inner = host;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return std::nullopt;
    }
    inner = host.substr(1, host.size() - 2);
  }
  for (const char c : inner) {
    const bool ok = is_unreserved(c) || is_sub_delim(c) || (c == ':' && host.front() == '[');
    if (!ok) {
      return std::nullopt;
    }
  }
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// ---- HTTP tokens (RFC 9110 §5.6.2) and nonce syntax (RFC 9449 §8.1) ----

bool is_token(std::string_view text) noexcept {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return is_alpha(c) || is_digit(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_nonce_syntax(std::string_view text) noexcept {
  // NQCHAR = %x21 / %x23-5B / %x5D-7E
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
  });
}

// RFC 7519 §2 NumericDate: seconds, possibly fractional. Values are clamped to ±2^53 s (far
// beyond any acceptable iat) so the window arithmetic cannot overflow.
std::optional<std::int64_t> numeric_date(const nlohmann::json& value) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 53;
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    return v > static_cast<std::uint64_t>(kLimit) ? kLimit : static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) {
    return std::clamp(value.get<std::int64_t>(), -kLimit, kLimit);
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (!std::isfinite(v)) {
      return std::nullopt;
    }
    const double limit = static_cast<double>(kLimit);
    return static_cast<std::int64_t>(std::clamp(std::floor(v), -limit, limit));
  }
  return std::nullopt;
}

const std::string* string_claim(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

void put_be64(std::uint8_t* out, std::uint64_t value) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(value & 0xff);
    value >>= 8;
  }
}

std::uint64_t get_be64(const std::uint8_t* in) noexcept {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | in[i];
  }
  return value;
}

}  // namespace

std::optional<std::string> normalize_htu(std::string_view uri) {
  // Scheme (RFC 3986 §3.1), lower-cased (§6.2.2.1); only http and https name HTTP resources.
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::nullopt;
  }
  std::string scheme(uri.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), lower);
  if (scheme != "http" && scheme != "https") {
    return std::nullopt;
  }
  std::string_view rest = uri.substr(colon + 1);
  if (rest.substr(0, 2) != "//") {
    return std::nullopt;  // no authority: not an absolute http(s) URI
  }
  rest.remove_prefix(2);
  rest = rest.substr(0, rest.find_first_of("?#"));  // §4.3: without query and fragment
  const std::size_t path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  const std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  // Userinfo is deprecated in http(s) URIs (RFC 9110 §4.2.4) and has no place in an htu.
  if (authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }

  std::string_view host_text = authority;
  std::optional<std::string_view> port_text;
  const std::size_t host_end = authority.empty() || authority.front() != '['
                                   ? authority.find(':')
                                   : authority.find(']') + 1;  // npos + 1 == 0: caught below
  if (host_end == 0) {
    return std::nullopt;
  }
  if (host_end != std::string_view::npos && host_end < authority.size()) {
    if (authority[host_end] != ':') {
      return std::nullopt;
    }
    host_text = authority.substr(0, host_end);
    port_text = authority.substr(host_end + 1);
  }
  auto host = normalize_host(host_text);
  if (!host) {
    return std::nullopt;
  }

  // Port (§6.2.3): an empty port or the scheme's default is dropped; leading zeros go.
  std::string port;
  if (port_text && !port_text->empty()) {
    if (!std::all_of(port_text->begin(), port_text->end(), is_digit)) {
      return std::nullopt;
    }
    std::string_view digits = *port_text;
    while (digits.size() > 1 && digits.front() == '0') {
      digits.remove_prefix(1);
    }
    if (digits.size() > 5) {
      return std::nullopt;
    }
    int number = 0;
    for (const char c : digits) {
      number = number * 10 + (c - '0');
    }
    if (number > 65535) {
      return std::nullopt;
    }
    const int default_port = scheme == "https" ? 443 : 80;
    if (number != default_port) {
      port = ":" + std::to_string(number);
    }
  }

  // Path (§6.2.2.2, §6.2.2.3, and §6.2.3: an empty path is "/").
  auto encoded = normalize_percent_encoding(path);
  if (!encoded) {
    return std::nullopt;
  }
  const std::string normalized_path = encoded->empty() ? "/" : remove_dot_segments(*encoded);
  return scheme + "://" + *host + port + normalized_path;
}

std::string access_token_hash(std::string_view access_token) {
  const Sha256Digest digest = sha256(as_bytes(access_token));
  return jose::base64url_encode(digest);
}

// ---- NonceSource ----

NonceSource::NonceSource(std::chrono::seconds window)
    : window_(std::max(window, std::chrono::seconds(1))) {
  // Construction happens at startup, never per request: an exception here fails the start.
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("DPoP nonce secret: no randomness from RAND_bytes");
  }
}

std::int64_t NonceSource::window_index(SystemTime now) const noexcept {
  const std::int64_t seconds = unix_seconds(now);
  const std::int64_t width = window_.count();
  // Floor division, so instants before 1970 still fall into consecutive windows.
  std::int64_t index = seconds / width;
  if (seconds % width != 0 && seconds < 0) {
    --index;
  }
  return index;
}

std::array<std::uint8_t, 16> NonceSource::tag(std::int64_t index) const noexcept {
  std::array<std::uint8_t, 8> message{};
  put_be64(message.data(), static_cast<std::uint64_t>(index));
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), message.data(),
       message.size(), mac.data(), &mac_size);
  std::array<std::uint8_t, 16> out{};
  std::copy_n(mac.begin(), out.size(), out.begin());  // HMAC-SHA256-128 (RFC 2104 §5)
  return out;
}

std::string NonceSource::current(SystemTime now) const {
  const std::int64_t index = window_index(now);
  std::array<std::uint8_t, 24> raw{};
  put_be64(raw.data(), static_cast<std::uint64_t>(index));
  const auto mac = tag(index);
  std::copy(mac.begin(), mac.end(), raw.begin() + 8);
  return jose::base64url_encode(raw);
}

bool NonceSource::accepts(std::string_view nonce, SystemTime now) const noexcept {
  if (nonce.size() != 32) {  // base64url of 24 bytes
    return false;
  }
  const auto raw = jose::base64url_decode(nonce);
  if (!raw || raw->size() != 24) {
    return false;
  }
  const auto index = static_cast<std::int64_t>(get_be64(raw->data()));
  const std::int64_t now_index = window_index(now);
  if (index != now_index &&
      !(now_index > std::numeric_limits<std::int64_t>::min() && index == now_index - 1)) {
    return false;
  }
  const auto expected = tag(index);
  return equal_constant_time(ByteView(raw->data() + 8, 16), expected);
}

// ---- ProofVerifier ----

ProofVerifier::ProofVerifier(VerifierOptions options)
    : options_(std::move(options)), nonces_(options_.nonce_window) {}

std::size_t ProofVerifier::replay_cache_size() const {
  const std::lock_guard lock(mutex_);
  return seen_.size();
}

bool ProofVerifier::record_once(const Sha256Digest& id, SystemTime now, SystemTime expires) {
  const std::lock_guard lock(mutex_);
  // Expired entries go first: their proofs are refused by the iat check anyway.
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    seen_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  if (seen_.contains(id)) {
    return false;
  }
  // Still full: drop the entries closest to expiry (the oldest), see the class comment.
  const std::size_t capacity = std::max<std::size_t>(options_.replay_capacity, 1);
  while (seen_.size() >= capacity) {
    seen_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  seen_.emplace(id, by_expiry_.emplace(expires, id));
  return true;
}

Outcome<VerifiedProof> ProofVerifier::verify(std::span<const std::string> header_values,
                                             const ProofCheck& check, SystemTime now) {
  // Check 1: exactly one DPoP header field.
  if (header_values.empty()) {
    return fail(Errc::ProofMissing);
  }
  if (header_values.size() > 1) {
    return fail(Errc::ProofMultiple);
  }
  // Check 2: a well-formed JWS. Every implemented algorithm is let through the parser so that
  // typ is judged before alg; the configured allowlist applies right after. "none", HMAC and
  // unknown names still stop here.
  auto jws = jose::parse_compact(header_values.front(), jose::kAllAlgorithms);
  if (!jws) {
    if (jws.error() == make_error_code(jose::Errc::AlgorithmNotAllowed)) {
      return fail(Errc::AlgorithmNotAllowed, describe(jws.error()));
    }
    return fail(Errc::ProofMalformed, describe(jws.error()));
  }
  const nlohmann::json& header = jws->header;
  // Check 4: explicit typing (RFC 8725 §3.11) keeps other JWTs from passing as proofs.
  const std::string* typ = string_claim(header, "typ");
  if (typ == nullptr || *typ != kProofType) {
    return fail(Errc::TypInvalid);
  }
  // Check 5: an asymmetric algorithm this server accepts.
  if (std::find(options_.algorithms.begin(), options_.algorithms.end(), jws->algorithm) ==
      options_.algorithms.end()) {
    return fail(Errc::AlgorithmNotAllowed, std::string(jose::algorithm_name(jws->algorithm)));
  }
  // Check 7 (before 6: the key must exist to verify with): a public key, never a private one.
  const auto jwk_member = header.find("jwk");
  if (jwk_member == header.end()) {
    return fail(Errc::JwkInvalid, "no jwk header parameter");
  }
  auto key = jose::parse_public_jwk(*jwk_member);
  if (!key) {
    return fail(Errc::JwkInvalid, describe(key.error()));
  }
  // Check 6: the signature, with the algorithm tied to the key's curve.
  if (auto verified = jose::verify_signature(*jws, *key); !verified) {
    if (verified.error() == make_error_code(jose::Errc::AlgorithmKeyMismatch)) {
      return fail(Errc::JwkInvalid, describe(verified.error()));
    }
    return fail(Errc::SignatureInvalid, describe(verified.error()));
  }
  // Check 3: the required claims, with their JSON types.
  auto claims = jose::payload_object(*jws);
  if (!claims) {
    return fail(Errc::ProofMalformed, describe(claims.error()));
  }
  const std::string* jti = string_claim(*claims, "jti");
  const std::string* htm = string_claim(*claims, "htm");
  const std::string* htu = string_claim(*claims, "htu");
  const auto iat_member = claims->find("iat");
  const std::optional<std::int64_t> iat =
      iat_member == claims->end() ? std::nullopt : numeric_date(*iat_member);
  if (jti == nullptr || jti->empty()) {
    return fail(Errc::ClaimMissing, "jti");
  }
  if (htm == nullptr) {
    return fail(Errc::ClaimMissing, "htm");
  }
  if (htu == nullptr) {
    return fail(Errc::ClaimMissing, "htu");
  }
  if (!iat) {
    return fail(Errc::ClaimMissing, "iat");
  }
  // Check 8: methods are case-sensitive (RFC 9110 §9.1).
  if (*htm != check.method) {
    return fail(Errc::MethodMismatch);
  }
  // Check 9: both sides normalised (§4.3 last paragraph).
  const auto expected_htu = normalize_htu(check.htu);
  if (!expected_htu) {
    return fail(Errc::UriInvalid, "the server's expected htu");
  }
  const auto proof_htu = normalize_htu(*htu);
  if (!proof_htu || *proof_htu != *expected_htu) {
    return fail(Errc::UriMismatch);
  }
  // Check 11 (§11.1): iat within a bounded window around now.
  const std::int64_t now_seconds = unix_seconds(now);
  if (*iat < now_seconds - options_.max_age.count()) {
    return fail(Errc::IatTooOld);
  }
  if (*iat > now_seconds + options_.future_skew.count()) {
    return fail(Errc::IatInFuture);
  }
  // Check 10 (§8): the server's nonce. A nonce that is present is always checked, so a
  // VerifiedProof never carries a nonce this server did not issue.
  std::optional<std::string> nonce;
  if (const auto member = claims->find("nonce"); member != claims->end()) {
    if (!member->is_string() || !nonces_.accepts(member->get_ref<const std::string&>(), now)) {
      return fail(Errc::NonceInvalid);
    }
    nonce = member->get<std::string>();
  } else if (check.require_nonce) {
    return fail(Errc::NonceRequired);
  }
  // Check 12: the proof is bound to the access token presented with it.
  if (check.access_token) {
    const std::string* ath = string_claim(*claims, "ath");
    if (ath == nullptr ||
        !equal_constant_time(as_bytes(*ath), as_bytes(access_token_hash(*check.access_token)))) {
      return fail(Errc::AthMismatch);
    }
  }
  // Replay (§11.1), last: only a proof that passed everything else uses up its jti, so a
  // forged or misdirected copy cannot burn the legitimate one. The thumbprint has a fixed
  // length (43 characters), so jkt || jti identifies the pair unambiguously.
  std::string jkt = key->thumbprint();
  const Sha256Digest id = sha256(as_bytes(jkt + *jti));
  if (!record_once(id, now, now + options_.max_age + options_.future_skew)) {
    return fail(Errc::Replayed);
  }
  return VerifiedProof{
      std::move(*key),
      std::move(jkt),
      *jti,
      std::move(nonce),
      SystemTime(std::chrono::seconds(*iat)),
  };
}

// ---- client side ----

Result<std::string> make_proof(const jose::Signer& signer, std::string_view method,
                               std::string_view htu, SystemTime now,
                               std::optional<std::string_view> nonce,
                               std::optional<std::string_view> access_token) {
  if (!is_token(method)) {
    return make_error_code(Errc::MethodInvalid);
  }
  auto normalized = normalize_htu(htu);
  if (!normalized) {
    return make_error_code(Errc::UriInvalid);
  }
  if (nonce && !is_nonce_syntax(*nonce)) {
    return make_error_code(Errc::NonceInvalid);
  }
  // §4.2 "jti": at least 96 bits of randomness; 128 here.
  std::array<std::uint8_t, 16> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return make_error_code(jose::Errc::SigningFailed);
  }
  // Every string below is ASCII checked above, so serialising cannot fail.
  nlohmann::json payload{
      {"jti", jose::base64url_encode(random)},
      {"htm", std::string(method)},
      {"htu", std::move(*normalized)},
      {"iat", unix_seconds(now)},
  };
  if (nonce) {
    payload["nonce"] = std::string(*nonce);
  }
  if (access_token) {
    payload["ath"] = access_token_hash(*access_token);
  }
  nlohmann::json header{
      {"typ", std::string(kProofType)},
      {"jwk", signer.public_jwk().to_json()},
  };
  return signer.sign_compact(std::move(header), payload.dump());
}

}  // namespace atls::sts::dpop
