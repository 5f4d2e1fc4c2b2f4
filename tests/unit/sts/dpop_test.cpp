// DPoP (RFC 9449): htu normalisation, ath, server nonces, and each check of §4.3 by its error
// code, in order, with the bounded replay cache. Keys are generated; times are fixed instants.
#include "sts/dpop/dpop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "sts/dpop/errors.h"
#include "sts/jose/base64url.h"
#include "sts/jose/errors.h"

namespace atls::sts::dpop {
namespace {

using jose::Algorithm;
using nlohmann::json;
using std::chrono::seconds;

const SystemTime kNow = SystemTime(seconds(1'700'000'000));
constexpr std::string_view kHtu = "https://server.example.com/token";

// RFC 9449 §4.1 Figure 1 (the example proof) and Figure 7 (the example access token).
constexpr std::string_view kRfc9449Proof =
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0Vj"
    "NoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5"
    "VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVC"
    "IsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP"
    "4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
constexpr std::string_view kRfc9449AccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

ErrorCode code(Errc e) {
  return make_error_code(e);
}

const jose::Signer& es256() {
  static const jose::Signer signer = jose::Signer::generate(Algorithm::ES256).value();
  return signer;
}

const jose::Signer& ed25519() {
  static const jose::Signer signer = jose::Signer::generate(Algorithm::Ed25519).value();
  return signer;
}

// A proof built claim by claim, so each test changes exactly what it checks.
struct ProofSpec {
  const jose::Signer* signer = &es256();
  json header;
  json claims;
};

ProofSpec valid_spec(const ProofVerifier& verifier, SystemTime now = kNow) {
  static std::atomic<int> counter{0};
  ProofSpec spec;
  spec.header = {{"typ", "dpop+jwt"}, {"jwk", spec.signer->public_jwk().to_json()}};
  spec.claims = {
      {"jti", "jti-" + std::to_string(counter++)},
      {"htm", "POST"},
      {"htu", std::string(kHtu)},
      {"iat", std::chrono::duration_cast<seconds>(now.time_since_epoch()).count()},
      {"nonce", verifier.nonces().current(now)},
  };
  return spec;
}

std::string sign(const ProofSpec& spec) {
  return spec.signer->sign_compact(spec.header, spec.claims.dump()).value();
}

ProofCheck token_endpoint() {
  return ProofCheck{"POST", kHtu, std::nullopt, true};
}

Outcome<VerifiedProof> verify_one(ProofVerifier& verifier, const std::string& proof,
                                  const ProofCheck& check = token_endpoint(),
                                  SystemTime now = kNow) {
  const std::vector<std::string> values{proof};
  return verifier.verify(values, check, now);
}

ErrorCode error_of(const Outcome<VerifiedProof>& outcome) {
  return outcome ? ErrorCode{} : outcome.error().code;
}

ErrorCode check_spec(ProofVerifier& verifier, const ProofSpec& spec,
                     const ProofCheck& check = token_endpoint(), SystemTime now = kNow) {
  return error_of(verify_one(verifier, sign(spec), check, now));
}

// ---- htu ----

TEST(DpopHtu, NormalisesPerRfc3986) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases{
      {"HTTPS://Server.Example.COM:443/token?x#y", "https://server.example.com/token"},
      {"https://server.example.com/token", "https://server.example.com/token"},
      {"http://example.com:80", "http://example.com/"},
      {"http://example.com", "http://example.com/"},
      {"http://example.com:443/", "http://example.com:443/"},
      {"https://example.com:80/", "https://example.com:80/"},
      {"https://example.com:8443/a", "https://example.com:8443/a"},
      {"https://example.com:/x", "https://example.com/x"},
      {"https://example.com:0443/x", "https://example.com/x"},
      {"https://example.com?q=1", "https://example.com/"},
      {"https://example.com#frag", "https://example.com/"},
      {"https://example.com/a/./b/../c", "https://example.com/a/c"},
      {"https://example.com/a/b/..", "https://example.com/a/"},
      {"https://example.com/../../x", "https://example.com/x"},
      {"https://example.com/a/b/", "https://example.com/a/b/"},
      {"https://example.com/a//b", "https://example.com/a//b"},
      {"https://example.com/%7euser/%2fpath%3a", "https://example.com/~user/%2Fpath%3A"},
      {"https://example.com/%2E%2E/x", "https://example.com/x"},
      {"https://example.com/Token", "https://example.com/Token"},  // path case is significant
      {"https://[2001:DB8::1]:8443/t", "https://[2001:db8::1]:8443/t"},
      {"https://[::1]/t", "https://[::1]/t"},
      {"https://127.0.0.1:443/t", "https://127.0.0.1/t"},
  };
  for (const auto& [input, expected] : cases) {
    const auto normalized = normalize_htu(input);
    ASSERT_TRUE(normalized) << input;
    EXPECT_EQ(*normalized, expected) << input;
    EXPECT_EQ(normalize_htu(*normalized), normalized) << "idempotent: " << input;
  }
}

TEST(DpopHtu, RejectsWhatIsNotAnAbsoluteHttpUri) {
  for (const std::string_view bad : {
           "",
           "/token",
           "server.example.com/token",
           "ftp://server.example.com/x",
           "urn:x:y",
           "https:/server.example.com/x",
           "https://",
           "https:///x",
           "https://:443/x",
           "https://user@server.example.com/x",
           "https://server.example.com:99999/",
           "https://server.example.com:8a/",
           "https://server.example.com:443:1/",
           "https://ser ver.example.com/",
           "https://server.example.com/a b",
           "https://server.example.com/a\"b",
           "https://server.example.com/%zz",
           "https://server.example.com/%4",
           "https://server.example.com/\xc3\xa9",
           "https://%65xample.com/",
           "https://[::1/x",
           "https://[]/x",
           "https://[::1]x/",
           "://x",
       }) {
    EXPECT_FALSE(normalize_htu(bad)) << bad;
  }
}

TEST(DpopAth, Rfc9449ExampleHash) {
  EXPECT_EQ(access_token_hash(kRfc9449AccessToken), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
}

// ---- nonces ----

TEST(DpopNonce, AcceptedInItsWindowAndTheNext) {
  const NonceSource nonces(seconds(60));
  const SystemTime start = SystemTime(seconds(6000));  // a window boundary
  const std::string nonce = nonces.current(start);
  EXPECT_EQ(nonce.size(), 32u);
  EXPECT_EQ(nonces.current(start + seconds(59)), nonce);
  EXPECT_NE(nonces.current(start + seconds(60)), nonce);
  EXPECT_TRUE(nonces.accepts(nonce, start));
  EXPECT_TRUE(nonces.accepts(nonce, start + seconds(59)));
  EXPECT_TRUE(nonces.accepts(nonce, start + seconds(60)));    // next window
  EXPECT_TRUE(nonces.accepts(nonce, start + seconds(119)));   // end of the next window
  EXPECT_FALSE(nonces.accepts(nonce, start + seconds(120)));  // two windows on
  EXPECT_FALSE(nonces.accepts(nonce, start - seconds(1)));    // from the future
  EXPECT_FALSE(nonces.accepts(nonces.current(start + seconds(60)), start));
}

TEST(DpopNonce, RejectsForeignTamperedAndGarbageNonces) {
  const NonceSource nonces(seconds(60));
  const NonceSource other(seconds(60));
  const std::string nonce = nonces.current(kNow);
  EXPECT_FALSE(other.accepts(nonce, kNow));  // another secret (e.g. before a restart)

  Bytes raw = jose::base64url_decode(nonce).value();
  for (const std::size_t position : {std::size_t{7}, std::size_t{8}, std::size_t{23}}) {
    Bytes tampered = raw;
    tampered[position] ^= 0x01;
    EXPECT_FALSE(nonces.accepts(jose::base64url_encode(tampered), kNow)) << position;
  }
  // The previous window's index with the current tag.
  Bytes shifted = raw;
  shifted[7] = static_cast<std::uint8_t>(shifted[7] - 1);
  EXPECT_FALSE(nonces.accepts(jose::base64url_encode(shifted), kNow));

  for (const std::string_view bad :
       {std::string_view(""), std::string_view("x"), std::string_view(nonce).substr(0, 31),
        std::string_view("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")}) {
    EXPECT_FALSE(nonces.accepts(bad, kNow)) << bad;
  }
  EXPECT_FALSE(nonces.accepts(nonce + "AAAA", kNow));
}

// ---- the verifier: success ----

TEST(DpopVerifier, AcceptsAValidProof) {
  ProofVerifier verifier;
  const ProofSpec spec = valid_spec(verifier);
  auto verified = verify_one(verifier, sign(spec));
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->jkt, es256().public_jwk().thumbprint());
  EXPECT_EQ(verified->key, es256().public_jwk());
  EXPECT_EQ(verified->jti, spec.claims["jti"]);
  EXPECT_EQ(verified->nonce, spec.claims["nonce"].get<std::string>());
  EXPECT_EQ(verified->issued_at, kNow);
}

TEST(DpopVerifier, AcceptsTheRfc9449ExampleProof) {
  ProofVerifier verifier;
  const SystemTime at = SystemTime(seconds(1562262616));
  ProofCheck check = token_endpoint();
  check.require_nonce = false;
  auto verified = verify_one(verifier, std::string(kRfc9449Proof), check, at);
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
  EXPECT_EQ(verified->jti, "-BwC3ESc6acc2lTc");
  EXPECT_FALSE(verified->nonce);
  EXPECT_EQ(error_of(verify_one(verifier, std::string(kRfc9449Proof), check, at)),
            code(Errc::Replayed));
}

TEST(DpopVerifier, AcceptsEveryAllowedAlgorithm) {
  ProofVerifier verifier;
  for (const Algorithm alg : jose::kAllAlgorithms) {
    const jose::Signer signer = jose::Signer::generate(alg).value();
    ProofSpec spec = valid_spec(verifier);
    spec.signer = &signer;
    spec.header["jwk"] = signer.public_jwk().to_json();
    EXPECT_FALSE(check_spec(verifier, spec)) << jose::algorithm_name(alg);
  }
  EXPECT_EQ(verifier.algorithms().size(), 3u);
}

// ---- the verifier: one code per check ----

TEST(DpopVerifier, RequiresExactlyOneHeaderField) {
  ProofVerifier verifier;
  const std::string proof = sign(valid_spec(verifier));
  EXPECT_EQ(verifier.verify({}, token_endpoint(), kNow).error().code, code(Errc::ProofMissing));
  const std::vector<std::string> two{proof, proof};
  EXPECT_EQ(verifier.verify(two, token_endpoint(), kNow).error().code, code(Errc::ProofMultiple));
  const std::vector<std::string> two_different{proof, sign(valid_spec(verifier))};
  EXPECT_EQ(verifier.verify(two_different, token_endpoint(), kNow).error().code,
            code(Errc::ProofMultiple));
}

TEST(DpopVerifier, RejectsMalformedProofs) {
  ProofVerifier verifier;
  for (const std::string& bad : {std::string(), std::string("not a jwt"), std::string("a.b.c"),
                                 std::string("e30.e30.e30"), sign(valid_spec(verifier)) + "."}) {
    auto result = verify_one(verifier, bad);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, code(Errc::ProofMalformed)) << bad;
    EXPECT_NE(result.error().detail.find("jose."), std::string::npos);  // the jose detail kept
  }
  // A payload that is not a JSON object.
  const std::string not_object =
      es256()
          .sign_compact({{"typ", "dpop+jwt"}, {"jwk", es256().public_jwk().to_json()}}, "[1]")
          .value();
  auto result = verify_one(verifier, not_object);
  EXPECT_EQ(error_of(result), code(Errc::ProofMalformed));
  EXPECT_NE(result.error().detail.find("jose.payload_invalid"), std::string::npos);
}

TEST(DpopVerifier, RequiresTypDpopJwt) {
  ProofVerifier verifier;
  for (const json& typ : {json(), json("JWT"), json("DPOP+JWT"), json("application/dpop+jwt"),
                          json(1), json::array({"dpop+jwt"})}) {
    ProofSpec spec = valid_spec(verifier);
    if (typ.is_null()) {
      spec.header.erase("typ");
    } else {
      spec.header["typ"] = typ;
    }
    EXPECT_EQ(check_spec(verifier, spec), code(Errc::TypInvalid)) << typ.dump();
  }
}

TEST(DpopVerifier, RequiresAnAllowedAlgorithm) {
  VerifierOptions options;
  options.algorithms = {Algorithm::ES256};
  ProofVerifier verifier(options);
  ProofSpec spec = valid_spec(verifier);
  spec.signer = &ed25519();
  spec.header["jwk"] = ed25519().public_jwk().to_json();
  EXPECT_EQ(check_spec(verifier, spec), code(Errc::AlgorithmNotAllowed));

  // alg none / HS256, hand-made (no signer produces them).
  for (const char* alg : {"none", "HS256"}) {
    const json header{{"typ", "dpop+jwt"}, {"alg", alg}, {"jwk", es256().public_jwk().to_json()}};
    const std::string token = jose::base64url_encode(as_bytes(header.dump())) + "." +
                              jose::base64url_encode(as_bytes(valid_spec(verifier).claims.dump())) +
                              "." + jose::base64url_encode(Bytes(32, 7));
    EXPECT_EQ(error_of(verify_one(verifier, token)), code(Errc::AlgorithmNotAllowed)) << alg;
  }
}

TEST(DpopVerifier, RequiresAValidPublicJwk) {
  ProofVerifier verifier;
  auto detail_of = [&](const ProofSpec& spec) {
    auto result = verify_one(verifier, sign(spec));
    EXPECT_EQ(error_of(result), code(Errc::JwkInvalid));
    return result ? std::string() : result.error().detail;
  };
  ProofSpec missing = valid_spec(verifier);
  missing.header.erase("jwk");
  detail_of(missing);

  ProofSpec private_key = valid_spec(verifier);
  private_key.header["jwk"]["d"] = "AAAA";
  EXPECT_NE(detail_of(private_key).find("jose.jwk_private"), std::string::npos);

  ProofSpec not_object = valid_spec(verifier);
  not_object.header["jwk"] = "key";
  EXPECT_NE(detail_of(not_object).find("jose.jwk_invalid"), std::string::npos);

  ProofSpec off_curve = valid_spec(verifier);
  Bytes y = jose::base64url_decode(off_curve.header["jwk"]["y"].get<std::string>()).value();
  y[5] ^= 0x10;
  off_curve.header["jwk"]["y"] = jose::base64url_encode(y);
  EXPECT_NE(detail_of(off_curve).find("jose.jwk_point_invalid"), std::string::npos);

  // An Ed25519 key in an ES256 proof: algorithm confusion.
  ProofSpec mismatch = valid_spec(verifier);
  mismatch.header["jwk"] = ed25519().public_jwk().to_json();
  EXPECT_NE(detail_of(mismatch).find("jose.algorithm_key_mismatch"), std::string::npos);
}

TEST(DpopVerifier, RequiresTheSignatureOfTheEmbeddedKey) {
  ProofVerifier verifier;
  const jose::Signer other = jose::Signer::generate(Algorithm::ES256).value();
  ProofSpec spec = valid_spec(verifier);
  spec.header["jwk"] = other.public_jwk().to_json();  // signed by es256(), claims other's key
  EXPECT_EQ(check_spec(verifier, spec), code(Errc::SignatureInvalid));

  // A payload swapped under a valid header and signature.
  const std::string proof = sign(valid_spec(verifier));
  const std::string other_payload = sign(valid_spec(verifier));
  const auto part = [](const std::string& token, int index) {
    const std::size_t first = token.find('.');
    const std::size_t second = token.find('.', first + 1);
    return index == 0   ? token.substr(0, first)
           : index == 1 ? token.substr(first + 1, second - first - 1)
                        : token.substr(second + 1);
  };
  const std::string swapped = part(proof, 0) + "." + part(other_payload, 1) + "." + part(proof, 2);
  EXPECT_EQ(error_of(verify_one(verifier, swapped)), code(Errc::SignatureInvalid));
}

TEST(DpopVerifier, RequiresEachClaimWithItsType) {
  ProofVerifier verifier;
  for (const char* claim : {"jti", "htm", "htu", "iat"}) {
    ProofSpec spec = valid_spec(verifier);
    spec.claims.erase(claim);
    auto result = verify_one(verifier, sign(spec));
    EXPECT_EQ(error_of(result), code(Errc::ClaimMissing)) << claim;
    EXPECT_EQ(result.error().detail, claim);
  }
  const std::vector<std::pair<const char*, json>> wrong_types{
      {"jti", 12},
      {"jti", ""},
      {"jti", json::array()},
      {"htm", json::array({"POST"})},
      {"htm", nullptr},
      {"htu", 1},
      {"iat", "1700000000"},
      {"iat", true},
      {"iat", json::object()},
  };
  for (const auto& [claim, value] : wrong_types) {
    ProofSpec spec = valid_spec(verifier);
    spec.claims[claim] = value;
    EXPECT_EQ(check_spec(verifier, spec), code(Errc::ClaimMissing)) << claim << value.dump();
  }
}

TEST(DpopVerifier, RequiresTheRequestMethod) {
  ProofVerifier verifier;
  for (const char* htm : {"GET", "post", "POST ", ""}) {
    ProofSpec spec = valid_spec(verifier);
    spec.claims["htm"] = htm;
    EXPECT_EQ(check_spec(verifier, spec), code(Errc::MethodMismatch)) << htm;
  }
}

TEST(DpopVerifier, ComparesNormalisedUris) {
  ProofVerifier verifier;
  for (const char* htu : {"https://server.example.com/other", "http://server.example.com/token",
                          "https://server.example.com:8443/token", "https://evil.example/token",
                          "https://server.example.com/token/", "/token", "not a uri"}) {
    ProofSpec spec = valid_spec(verifier);
    spec.claims["htu"] = htu;
    EXPECT_EQ(check_spec(verifier, spec), code(Errc::UriMismatch)) << htu;
  }
  // Equal after normalisation: accepted (query and fragment ignored, §4.3 check 9).
  ProofSpec spec = valid_spec(verifier);
  spec.claims["htu"] = "HTTPS://Server.Example.COM:443/token?x#y";
  EXPECT_FALSE(check_spec(verifier, spec));
  ProofSpec spec2 = valid_spec(verifier);
  ProofCheck check = token_endpoint();
  check.htu = "https://SERVER.example.com:443/./token?client=1";
  EXPECT_FALSE(check_spec(verifier, spec2, check));
  // The server's own URI is not a URI: a configuration error, named as such.
  check.htu = "server.example.com/token";
  EXPECT_EQ(check_spec(verifier, valid_spec(verifier), check), code(Errc::UriInvalid));
}

TEST(DpopVerifier, RequiresIatWithinTheWindow) {
  ProofVerifier verifier;  // max_age 300 s, future_skew 60 s
  const std::int64_t now = 1'700'000'000;
  const std::vector<std::pair<json, ErrorCode>> cases{
      {now - 301, code(Errc::IatTooOld)},
      {now - 300, ErrorCode{}},
      {now + 60, ErrorCode{}},
      {now + 61, code(Errc::IatInFuture)},
      {static_cast<double>(now) + 0.5, ErrorCode{}},
      {1e300, code(Errc::IatInFuture)},
      {-1e300, code(Errc::IatTooOld)},
      {-5, code(Errc::IatTooOld)},
      {std::numeric_limits<std::uint64_t>::max(), code(Errc::IatInFuture)},
      {std::numeric_limits<std::int64_t>::min(), code(Errc::IatTooOld)},
  };
  for (const auto& [iat, expected] : cases) {
    ProofSpec spec = valid_spec(verifier);
    spec.claims["iat"] = iat;
    EXPECT_EQ(check_spec(verifier, spec), expected) << iat.dump();
  }
}

TEST(DpopVerifier, ChecksServerNonces) {
  ProofVerifier verifier;  // nonce window 60 s
  ProofSpec missing = valid_spec(verifier);
  missing.claims.erase("nonce");
  EXPECT_EQ(check_spec(verifier, missing), code(Errc::NonceRequired));

  ProofSpec foreign = valid_spec(verifier);
  foreign.claims["nonce"] = NonceSource(seconds(60)).current(kNow);
  EXPECT_EQ(check_spec(verifier, foreign), code(Errc::NonceInvalid));

  ProofSpec stale = valid_spec(verifier);
  stale.claims["nonce"] = verifier.nonces().current(kNow - seconds(180));
  EXPECT_EQ(check_spec(verifier, stale), code(Errc::NonceInvalid));

  ProofSpec previous_window = valid_spec(verifier);
  previous_window.claims["nonce"] = verifier.nonces().current(kNow - seconds(60));
  EXPECT_FALSE(check_spec(verifier, previous_window));

  ProofSpec not_string = valid_spec(verifier);
  not_string.claims["nonce"] = 5;
  EXPECT_EQ(check_spec(verifier, not_string), code(Errc::NonceInvalid));

  // Without require_nonce, a proof may omit the nonce; one that is present is still checked.
  ProofCheck optional = token_endpoint();
  optional.require_nonce = false;
  ProofSpec omitted = valid_spec(verifier);
  omitted.claims.erase("nonce");
  EXPECT_FALSE(check_spec(verifier, omitted, optional));
  ProofSpec bad = valid_spec(verifier);
  bad.claims["nonce"] = "made-up";
  EXPECT_EQ(check_spec(verifier, bad, optional), code(Errc::NonceInvalid));
}

TEST(DpopVerifier, BindsTheAccessTokenThroughAth) {
  ProofVerifier verifier;
  ProofCheck resource = token_endpoint();
  resource.access_token = kRfc9449AccessToken;

  ProofSpec missing = valid_spec(verifier);
  EXPECT_EQ(check_spec(verifier, missing, resource), code(Errc::AthMismatch));

  ProofSpec wrong = valid_spec(verifier);
  wrong.claims["ath"] = access_token_hash("another token");
  EXPECT_EQ(check_spec(verifier, wrong, resource), code(Errc::AthMismatch));

  ProofSpec not_string = valid_spec(verifier);
  not_string.claims["ath"] = json::array();
  EXPECT_EQ(check_spec(verifier, not_string, resource), code(Errc::AthMismatch));

  ProofSpec right = valid_spec(verifier);
  right.claims["ath"] = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";
  EXPECT_FALSE(check_spec(verifier, right, resource));

  // At the token endpoint (no access token), an ath is not looked at.
  ProofSpec extra = valid_spec(verifier);
  extra.claims["ath"] = "anything";
  EXPECT_FALSE(check_spec(verifier, extra));
}

// ---- order of the checks ----

TEST(DpopVerifier, ReportsTheFirstFailingCheckInRfcOrder) {
  ProofVerifier verifier;
  ProofCheck resource = token_endpoint();
  resource.access_token = "token";
  const jose::Signer other = jose::Signer::generate(Algorithm::ES256).value();

  // Each step breaks one more check, always an earlier one; the earliest is reported.
  const std::vector<std::pair<std::function<void(ProofSpec&)>, Errc>> breakers{
      {[](ProofSpec& s) { s.claims["ath"] = "wrong"; }, Errc::AthMismatch},
      {[](ProofSpec& s) { s.claims.erase("nonce"); }, Errc::NonceRequired},
      {[](ProofSpec& s) { s.claims["iat"] = 5; }, Errc::IatTooOld},
      {[](ProofSpec& s) { s.claims["htu"] = "https://elsewhere.example/"; }, Errc::UriMismatch},
      {[](ProofSpec& s) { s.claims["htm"] = "GET"; }, Errc::MethodMismatch},
      {[](ProofSpec& s) { s.claims.erase("jti"); }, Errc::ClaimMissing},
      {[&](ProofSpec& s) { s.header["jwk"] = other.public_jwk().to_json(); },
       Errc::SignatureInvalid},
      {[](ProofSpec& s) { s.header["jwk"]["d"] = "AAAA"; }, Errc::JwkInvalid},
      {[](ProofSpec& s) { s.header["typ"] = "JWT"; }, Errc::TypInvalid},
  };
  ProofSpec broken = valid_spec(verifier);
  for (const auto& [breaker, expected] : breakers) {
    breaker(broken);
    EXPECT_EQ(check_spec(verifier, broken, resource), code(expected)) << error_id(code(expected));
  }
  // Finally more than one header beats everything.
  const std::vector<std::string> two{sign(broken), sign(broken)};
  EXPECT_EQ(verifier.verify(two, resource, kNow).error().code, code(Errc::ProofMultiple));
  EXPECT_EQ(verifier.replay_cache_size(), 0u);  // nothing recorded by failures
}

// ---- replay ----

TEST(DpopReplay, DetectedOnlyAfterEverythingElsePassed) {
  VerifierOptions options;
  options.nonce_window = seconds(600);  // the nonce outlives the +200 s retry below
  ProofVerifier verifier(options);
  const std::string proof = sign(valid_spec(verifier));
  ProofCheck wrong_method = token_endpoint();
  wrong_method.method = "GET";
  // Failures do not use up the jti: a misdirected copy cannot burn the legitimate proof.
  EXPECT_EQ(error_of(verify_one(verifier, proof, wrong_method)), code(Errc::MethodMismatch));
  EXPECT_EQ(verifier.replay_cache_size(), 0u);
  EXPECT_FALSE(error_of(verify_one(verifier, proof)));
  EXPECT_EQ(error_of(verify_one(verifier, proof)), code(Errc::Replayed));
  EXPECT_EQ(error_of(verify_one(verifier, proof, token_endpoint(), kNow + seconds(200))),
            code(Errc::Replayed));
  EXPECT_EQ(verifier.replay_cache_size(), 1u);
}

TEST(DpopReplay, KeyedByThumbprintAndJti) {
  ProofVerifier verifier;
  ProofSpec first = valid_spec(verifier);
  first.claims["jti"] = "same";
  ProofSpec second = valid_spec(verifier);
  second.claims["jti"] = "same";
  second.signer = &ed25519();
  second.header["jwk"] = ed25519().public_jwk().to_json();
  EXPECT_FALSE(check_spec(verifier, first));
  EXPECT_FALSE(check_spec(verifier, second));  // same jti, another key
  ProofSpec again = valid_spec(verifier);
  again.claims["jti"] = "same";
  EXPECT_EQ(check_spec(verifier, again), code(Errc::Replayed));  // same key, new signature
}

TEST(DpopReplay, BoundedCacheEvictsTheOldest) {
  VerifierOptions options;
  options.replay_capacity = 3;
  ProofVerifier verifier(options);
  std::vector<std::string> proofs;
  for (int i = 0; i < 5; ++i) {
    const SystemTime at = kNow + seconds(i);
    proofs.push_back(sign(valid_spec(verifier, at)));
    ASSERT_FALSE(error_of(verify_one(verifier, proofs.back(), token_endpoint(), at))) << i;
  }
  EXPECT_EQ(verifier.replay_cache_size(), 3u);
  const SystemTime later = kNow + seconds(10);
  // The newest are remembered; the oldest two were evicted and, as documented, pass again.
  EXPECT_EQ(error_of(verify_one(verifier, proofs[4], token_endpoint(), later)),
            code(Errc::Replayed));
  EXPECT_FALSE(error_of(verify_one(verifier, proofs[0], token_endpoint(), later)));
  EXPECT_EQ(verifier.replay_cache_size(), 3u);
}

TEST(DpopReplay, ExpiredEntriesAreEvictedFirst) {
  VerifierOptions options;
  options.replay_capacity = 2;          // entries live max_age + future_skew = 360 s
  options.nonce_window = seconds(600);  // nonces stay valid across the +400 s below
  ProofVerifier verifier(options);
  const std::string a = sign(valid_spec(verifier, kNow));
  const std::string b = sign(valid_spec(verifier, kNow + seconds(200)));
  ASSERT_FALSE(error_of(verify_one(verifier, a, token_endpoint(), kNow)));
  ASSERT_FALSE(error_of(verify_one(verifier, b, token_endpoint(), kNow + seconds(200))));
  // At +400 s a's entry (until +360 s) has expired: it goes, b's stays.
  const SystemTime later = kNow + seconds(400);
  const std::string c = sign(valid_spec(verifier, later));
  ASSERT_FALSE(error_of(verify_one(verifier, c, token_endpoint(), later)));
  EXPECT_EQ(verifier.replay_cache_size(), 2u);
  EXPECT_EQ(error_of(verify_one(verifier, b, token_endpoint(), later)), code(Errc::Replayed));
  EXPECT_EQ(error_of(verify_one(verifier, a, token_endpoint(), later)), code(Errc::IatTooOld));
}

TEST(DpopReplay, OneWinnerAcrossThreads) {
  ProofVerifier verifier;
  const std::string proof = sign(valid_spec(verifier));
  std::atomic<int> accepted{0};
  std::atomic<int> replayed{0};
  std::vector<std::thread> threads;
  threads.reserve(6);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      const auto error = error_of(verify_one(verifier, proof));
      if (!error) {
        ++accepted;
      } else if (error == code(Errc::Replayed)) {
        ++replayed;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(replayed.load(), 5);
}

// ---- client side ----

TEST(DpopMakeProof, RoundTripsThroughTheVerifier) {
  ProofVerifier verifier;
  const std::string nonce = verifier.nonces().current(kNow);
  auto proof = make_proof(es256(), "POST", "HTTPS://Server.Example.COM:443/token?x=1", kNow, nonce,
                          std::string_view(kRfc9449AccessToken));
  ASSERT_TRUE(proof);

  auto jws = jose::parse_compact(*proof, jose::kAllAlgorithms);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->header["typ"], "dpop+jwt");
  EXPECT_EQ(jws->header["alg"], "ES256");
  EXPECT_EQ(jws->header["jwk"], es256().public_jwk().to_json());
  const json claims = jose::payload_object(*jws).value();
  EXPECT_EQ(claims["htm"], "POST");
  EXPECT_EQ(claims["htu"], "https://server.example.com/token");
  EXPECT_EQ(claims["iat"], 1'700'000'000);
  EXPECT_EQ(claims["nonce"], nonce);
  EXPECT_EQ(claims["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
  EXPECT_EQ(claims["jti"].get<std::string>().size(), 22u);  // 16 random bytes

  ProofCheck resource = token_endpoint();
  resource.access_token = kRfc9449AccessToken;
  auto verified = verify_one(verifier, *proof, resource);
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->nonce, nonce);

  // Each proof gets a fresh jti.
  auto another = make_proof(es256(), "POST", kHtu, kNow, nonce, std::nullopt);
  ASSERT_TRUE(another);
  EXPECT_FALSE(error_of(verify_one(verifier, *another)));

  auto ed = make_proof(ed25519(), "GET", kHtu, kNow, std::nullopt, std::nullopt);
  ASSERT_TRUE(ed);
  ProofCheck get = token_endpoint();
  get.method = "GET";
  get.require_nonce = false;
  EXPECT_FALSE(error_of(verify_one(verifier, *ed, get)));
}

TEST(DpopMakeProof, RefusesInvalidInput) {
  EXPECT_EQ(make_proof(es256(), "PO ST", kHtu, kNow, std::nullopt, std::nullopt).error(),
            code(Errc::MethodInvalid));
  EXPECT_EQ(make_proof(es256(), "", kHtu, kNow, std::nullopt, std::nullopt).error(),
            code(Errc::MethodInvalid));
  EXPECT_EQ(make_proof(es256(), "POST", "/token", kNow, std::nullopt, std::nullopt).error(),
            code(Errc::UriInvalid));
  for (const std::string_view nonce : {"", "a b", "a\"b", "a\\b", "\xc3\xa9"}) {
    EXPECT_EQ(make_proof(es256(), "POST", kHtu, kNow, nonce, std::nullopt).error(),
              code(Errc::NonceInvalid))
        << nonce;
  }
}

TEST(DpopErrors, NamesAreStable) {
  EXPECT_EQ(error_id(code(Errc::ProofMultiple)), "dpop.proof_multiple");
  EXPECT_EQ(error_id(code(Errc::NonceRequired)), "dpop.nonce_required");
  EXPECT_EQ(error_id(code(Errc::AthMismatch)), "dpop.ath_mismatch");
  EXPECT_EQ(error_id(code(Errc::UriInvalid)), "dpop.uri_invalid");
}

}  // namespace
}  // namespace atls::sts::dpop
