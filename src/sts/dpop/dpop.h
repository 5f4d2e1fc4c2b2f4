#pragma once
// DPoP (RFC 9449): proofs of possession of a client key, sent in the DPoP header of each request.
//
//   normalize_htu       the "htu" comparison form (§4.3 check 9, RFC 3986 §6.2.2-§6.2.3)
//   NonceSource         stateless server nonces (§8)
//   ProofVerifier       the §4.3 checks, in order, with a bounded jti replay cache (§11.1)
//   make_proof          the client side (§4.2)
//
// Time is always the caller's `now` (tests use fixed instants); nothing here reads a clock.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/digest.h"
#include "core/error.h"
#include "sts/jose/jwk.h"
#include "sts/jose/jws.h"

namespace atls::sts::dpop {

/// The "typ" of a DPoP proof (§4.2).
inline constexpr std::string_view kProofType = "dpop+jwt";

/// §4.3 "htu": the target URI without query and fragment, normalised per RFC 3986 §6.2.2
/// (percent-encoding hex upper-cased, unreserved characters decoded, dot segments removed) and
/// §6.2.3 (scheme and host lower-cased, default port removed (http 80, https 443), empty path
/// -> "/"). nullopt unless `uri` is an absolute http or https URI with a host and no userinfo.
std::optional<std::string> normalize_htu(std::string_view uri);

/// The "ath" claim (§4.2): base64url(SHA-256(ASCII(access_token))).
std::string access_token_hash(std::string_view access_token);

/// What the server expects of the proof on this request.
struct ProofCheck {
  std::string_view method;  ///< the request method, e.g. "POST" (compared case-sensitively)
  std::string_view htu;     ///< the endpoint's external URI; normalised before comparing
  /// At a resource server, the access token presented with the proof: "ath" must match it.
  std::optional<std::string_view> access_token;
  bool require_nonce = true;
};

struct VerifiedProof {
  jose::PublicJwk key;
  std::string jkt;  ///< RFC 7638 thumbprint of key (the cnf.jkt of a bound token, §6.1)
  std::string jti;
  std::optional<std::string> nonce;  ///< when present, accepted by the verifier's NonceSource
  SystemTime issued_at;
};

struct VerifierOptions {
  std::vector<jose::Algorithm> algorithms{jose::Algorithm::ES256, jose::Algorithm::ES384,
                                          jose::Algorithm::Ed25519};
  std::chrono::seconds max_age{300};     ///< iat older than now - max_age: iat_too_old
  std::chrono::seconds future_skew{60};  ///< iat later than now + future_skew: iat_in_future
  /// Bound of the jti replay cache. When it is full, expired entries go first, then the
  /// soonest-expiring (oldest) ones: see ProofVerifier for the trade-off.
  std::size_t replay_capacity = 65536;
  std::chrono::seconds nonce_window{60};  ///< nonce rotation period (NonceSource)
};

/// Server nonces (§8) without server state: a nonce is base64url(8-byte big-endian window index
/// || first 16 bytes of HMAC-SHA256(secret, window index)), the secret being 32 random bytes made
/// at construction. A nonce is accepted in the window it was made in and the next one, so it
/// lives between `window` and 2 x `window`; a restart (new secret) invalidates every nonce, and
/// the client simply gets a new one with its next use_dpop_nonce error.
class NonceSource {
 public:
  /// `window` below one second is raised to one second. Throws std::runtime_error if OpenSSL has
  /// no randomness for the secret (construction happens at startup, never per request).
  explicit NonceSource(std::chrono::seconds window);

  std::string current(SystemTime now) const;
  bool accepts(std::string_view nonce, SystemTime now) const noexcept;

 private:
  std::int64_t window_index(SystemTime now) const noexcept;
  std::array<std::uint8_t, 16> tag(std::int64_t index) const noexcept;

  std::chrono::seconds window_;
  std::array<std::uint8_t, 32> secret_{};
};

/// Checks DPoP proofs. Thread-safe: everything but the replay cache is immutable, and the cache
/// is guarded by a mutex held only for the lookup and insertion.
///
/// Replay cache trade-off (§11.1): entries are kept for max_age + future_skew, the longest time
/// a proof stays acceptable. The cache holds at most replay_capacity entries (32-byte digests of
/// (jkt, jti)), so memory stays bounded whatever clients send. If more proofs than that are
/// accepted within one window, the oldest entries are evicted and their proofs could be replayed
/// for the rest of their window; refusing new proofs instead would let anyone with a key deny
/// service to everyone. Nonces (require_nonce) narrow the replay window to the nonce lifetime
/// regardless, so size the capacity above the expected peak proofs per max_age.
class ProofVerifier {
 public:
  explicit ProofVerifier(VerifierOptions options = {});

  ProofVerifier(const ProofVerifier&) = delete;
  ProofVerifier& operator=(const ProofVerifier&) = delete;

  /// The checks of §4.3 in this order: one DPoP header field; well-formed JWS; typ; alg on the
  /// allowlist; jwk public and valid; signature; jti/htm/htu/iat present; htm; htu; iat window;
  /// nonce (require_nonce: missing -> nonce_required; a nonce present but not accepted by
  /// nonces() -> nonce_invalid); ath (when an access token is given); then jti replay, recorded
  /// only when every other check passed, keyed by (jkt, jti).
  /// `header_values` = every value of the request's DPoP header fields (0, 1 or more).
  /// Check 12.2 (the access token is bound to this key) is the caller's: compare jkt with the
  /// token's cnf.jkt (§6.1).
  /// Errors: dpop.* (jose failures are mapped; their id is in the detail).
  Outcome<VerifiedProof> verify(std::span<const std::string> header_values, const ProofCheck& check,
                                SystemTime now);

  const NonceSource& nonces() const noexcept { return nonces_; }
  std::span<const jose::Algorithm> algorithms() const noexcept { return options_.algorithms; }
  const VerifierOptions& options() const noexcept { return options_; }

  /// Entries in the replay cache (expired ones included until purged).
  std::size_t replay_cache_size() const;

 private:
  /// Records (jkt, jti) until `expires`; false if it is already recorded and not expired.
  bool record_once(const Sha256Digest& id, SystemTime now, SystemTime expires);

  const VerifierOptions options_;
  const NonceSource nonces_;

  mutable std::mutex mutex_;
  std::multimap<SystemTime, Sha256Digest> by_expiry_;  // guarded by mutex_
  std::map<Sha256Digest, std::multimap<SystemTime, Sha256Digest>::iterator> seen_;  // ditto
};

/// Client side (§4.2): a proof for one request, with typ dpop+jwt, jwk = the signer's public
/// key, jti = 16 random bytes base64url, htm = `method`, htu = normalize_htu(`htu`), iat = `now`
/// in whole seconds, and the optional nonce and ath (of `access_token`).
/// Errors: dpop.method_invalid, dpop.uri_invalid, dpop.nonce_invalid (not the §8.1 NQCHAR
/// syntax), jose.signing_failed.
Result<std::string> make_proof(const jose::Signer& signer, std::string_view method,
                               std::string_view htu, SystemTime now,
                               std::optional<std::string_view> nonce,
                               std::optional<std::string_view> access_token);

}  // namespace atls::sts::dpop
