// JOSE layer: base64url (RFC 7515 §2), JWK import and thumbprints (RFC 7517, RFC 7518 §6,
// RFC 7638, RFC 8037), compact JWS (RFC 7515 §7.1) with ES256/ES384/EdDSA. Known answers come
// from the RFCs' examples; every refusal is checked by its named code.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "sts/jose/base64url.h"
#include "sts/jose/errors.h"
#include "sts/jose/jwk.h"
#include "sts/jose/jws.h"
#include "tls/certificate_builder.h"

namespace atls::sts::jose {
namespace {

using nlohmann::json;

// RFC 9449 §4.1, Figure 1/2: the example DPoP key and proof.
const json kRfc9449Jwk = json::parse(R"({"kty":"EC",
    "x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"})");
constexpr std::string_view kRfc9449Proof =
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0Vj"
    "NoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5"
    "VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVC"
    "IsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP"
    "4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";

// RFC 7515 Appendix A.3: ES256 example (key A.3.1, JWS A.3.1 end).
const json kRfc7515A3Jwk = json::parse(R"({"kty":"EC","crv":"P-256",
    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
constexpr std::string_view kRfc7515A3Jws =
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLm"
    "NvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmW"
    "QxfKTUJqPP3-Kg6NU1Q";

// RFC 8037 Appendix A.1 (private key), A.2 (public key), A.3 (thumbprint), A.4 (signature).
constexpr std::string_view kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfc8037Jws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg"
    "3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::string b64(std::string_view text) {
  return base64url_encode(as_bytes(text));
}

Bytes unb64(std::string_view text) {
  return base64url_decode(text).value();
}

ErrorCode code(Errc e) {
  return make_error_code(e);
}

json rfc8037_public_jwk() {
  return json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", std::string(kRfc8037X)}};
}

// A compact JWS with the given header text and an arbitrary (not verifying) 64-byte signature.
std::string token_with_header(std::string_view header_json) {
  return b64(header_json) + "." + b64(R"({"a":1})") + "." + base64url_encode(Bytes(64, 1));
}

ErrorCode parse_error(std::string_view token, std::span<const Algorithm> allowed = kAllAlgorithms) {
  auto parsed = parse_compact(token, allowed);
  return parsed ? ErrorCode{} : parsed.error();
}

ErrorCode jwk_error(const json& jwk) {
  auto parsed = parse_public_jwk(jwk);
  return parsed ? ErrorCode{} : parsed.error();
}

Signer generated(Algorithm alg) {
  return Signer::generate(alg).value();
}

// ---- base64url ----

TEST(JoseBase64url, EncodesRfc4648Vectors) {
  // RFC 4648 §10 vectors, without padding.
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg");
  EXPECT_EQ(b64("fo"), "Zm8");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  // The URL-safe characters replace '+' and '/'.
  EXPECT_EQ(base64url_encode(Bytes{0xfb, 0xff, 0xbf}), "-_-_");
}

TEST(JoseBase64url, RoundTripsEveryLength) {
  Bytes data;
  for (int length = 0; length < 70; ++length) {
    auto decoded = base64url_decode(base64url_encode(data));
    ASSERT_TRUE(decoded) << length;
    EXPECT_EQ(*decoded, data);
    data.push_back(static_cast<std::uint8_t>(length * 37 + 11));
  }
}

TEST(JoseBase64url, AcceptsOnlyTheCanonicalForm) {
  EXPECT_EQ(unb64("Zm8"), (Bytes{'f', 'o'}));
  EXPECT_EQ(unb64(""), Bytes{});
  for (const std::string_view bad : {
           "Zg==",      // padding
           "Zm8=",      // padding
           "Zm9v+w",    // standard alphabet
           "Zm9v/w",    // standard alphabet
           "Zm9 v",     // whitespace
           "Zm9v\n",    // newline
           " Zm9v",     // leading whitespace
           "Z",         // length % 4 == 1
           "Zm9vY",     // length % 4 == 1
           "Zh",        // "f" with non-zero unused bits (canonical: "Zg")
           "Zm9",       // "fo" with non-zero unused bits (canonical: "Zm8")
           "Zm9v\xff",  // non-ASCII
           "Zm9v.w",    // separator
       }) {
    auto decoded = base64url_decode(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error(), code(Errc::Base64urlInvalid)) << bad;
  }
  EXPECT_EQ(error_id(code(Errc::Base64urlInvalid)), "jose.base64url_invalid");
}

// ---- JWK ----

TEST(JoseJwk, Rfc9449ExampleKeyThumbprint) {
  auto key = parse_public_jwk(kRfc9449Jwk);
  ASSERT_TRUE(key) << describe(key.error());
  EXPECT_EQ(key->curve(), Curve::P256);
  EXPECT_EQ(key->thumbprint(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
  EXPECT_EQ(key->thumbprint_bytes().size(), 32u);
  EXPECT_EQ(base64url_encode(key->thumbprint_bytes()), key->thumbprint());
}

TEST(JoseJwk, Rfc8037Ed25519Thumbprint) {
  auto key = parse_public_jwk(rfc8037_public_jwk());
  ASSERT_TRUE(key) << describe(key.error());
  EXPECT_EQ(key->curve(), Curve::Ed25519);
  // RFC 8037 Appendix A.3.
  EXPECT_EQ(key->thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

TEST(JoseJwk, Rfc7638RsaExampleIsUnsupported) {
  // RFC 7638 §3.1 example key (modulus shortened: the key type is refused before it is read).
  const json rsa{{"kty", "RSA"},
                 {"n", "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4"},
                 {"e", "AQAB"},
                 {"alg", "RS256"},
                 {"kid", "2011-04-29"}};
  EXPECT_EQ(jwk_error(rsa), code(Errc::JwkUnsupported));
}

TEST(JoseJwk, ToJsonIsTheMinimalPublicKeyAndRoundTrips) {
  json with_extras = kRfc9449Jwk;
  with_extras["kid"] = "k1";
  with_extras["use"] = "sig";
  with_extras["alg"] = "ES256";
  with_extras["key_ops"] = json::array({"verify"});
  auto key = parse_public_jwk(with_extras);
  ASSERT_TRUE(key);
  const json minimal = key->to_json();
  EXPECT_EQ(minimal, kRfc9449Jwk);
  auto again = parse_public_jwk(minimal);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *key);
  EXPECT_EQ(again->thumbprint(), key->thumbprint());

  auto ed = parse_public_jwk(rfc8037_public_jwk());
  ASSERT_TRUE(ed);
  EXPECT_EQ(ed->to_json(), rfc8037_public_jwk());
}

TEST(JoseJwk, RejectsPrivateMembers) {
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    json jwk = kRfc9449Jwk;
    jwk[member] = "AAAA";
    EXPECT_EQ(jwk_error(jwk), code(Errc::JwkPrivate)) << member;
  }
  json ed = rfc8037_public_jwk();
  ed["d"] = std::string(kRfc8037D);
  EXPECT_EQ(jwk_error(ed), code(Errc::JwkPrivate));
}

TEST(JoseJwk, RejectsStructurallyInvalidKeys) {
  auto without = [](const char* member) {
    json jwk = kRfc9449Jwk;
    jwk.erase(member);
    return jwk;
  };
  auto with = [](const char* member, json value) {
    json jwk = kRfc9449Jwk;
    jwk[member] = std::move(value);
    return jwk;
  };
  const std::vector<json> cases{
      json::array(),
      json("EC"),
      json(nullptr),
      without("kty"),
      without("crv"),
      without("x"),
      without("y"),
      with("kty", 1),
      with("crv", json::array({"P-256"})),
      with("x", 5),
      with("y", nullptr),
      with("x", "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs="),  // padded
      with("y", "9VE4jf/Ok/o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"),   // standard alphabet
  };
  for (const json& jwk : cases) {
    EXPECT_EQ(jwk_error(jwk), code(Errc::JwkInvalid)) << jwk.dump();
  }
  json ed = rfc8037_public_jwk();
  ed.erase("x");
  EXPECT_EQ(jwk_error(ed), code(Errc::JwkInvalid));
}

TEST(JoseJwk, RejectsUnsupportedTypesAndCurves) {
  const std::vector<json> cases{
      {{"kty", "oct"}},
      {{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}},
      {{"kty", "ec"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}},
      {{"kty", "EC"}, {"crv", "P-521"}, {"x", "AA"}, {"y", "AA"}},
      {{"kty", "EC"}, {"crv", "secp256k1"}, {"x", "AA"}, {"y", "AA"}},
      {{"kty", "EC"}, {"crv", "Ed25519"}, {"x", "AA"}, {"y", "AA"}},
      {{"kty", "OKP"}, {"crv", "X25519"}, {"x", std::string(kRfc8037X)}},
      {{"kty", "OKP"}, {"crv", "Ed448"}, {"x", std::string(kRfc8037X)}},
      {{"kty", "OKP"}, {"crv", "P-256"}, {"x", std::string(kRfc8037X)}},
  };
  for (const json& jwk : cases) {
    EXPECT_EQ(jwk_error(jwk), code(Errc::JwkUnsupported)) << jwk.dump();
  }
}

TEST(JoseJwk, RejectsCoordinatesOfTheWrongLength) {
  const Bytes x = unb64(kRfc9449Jwk["x"].get<std::string>());
  const Bytes y = unb64(kRfc9449Jwk["y"].get<std::string>());
  auto with_coordinates = [](const Bytes& cx, const Bytes& cy) {
    json jwk = kRfc9449Jwk;
    jwk["x"] = base64url_encode(cx);
    jwk["y"] = base64url_encode(cy);
    return jwk;
  };
  Bytes x_short(x.begin() + 1, x.end());
  Bytes x_long{0};
  x_long.insert(x_long.end(), x.begin(), x.end());
  EXPECT_EQ(jwk_error(with_coordinates(x_short, y)), code(Errc::JwkPointInvalid));
  EXPECT_EQ(jwk_error(with_coordinates(x_long, y)), code(Errc::JwkPointInvalid));
  EXPECT_EQ(jwk_error(with_coordinates(x, x_long)), code(Errc::JwkPointInvalid));
  // P-256 coordinates under the P-384 name.
  json p384 = kRfc9449Jwk;
  p384["crv"] = "P-384";
  EXPECT_EQ(jwk_error(p384), code(Errc::JwkPointInvalid));
  // Ed25519 keys are exactly 32 bytes.
  Bytes ed = unb64(kRfc8037X);
  ed.pop_back();
  EXPECT_EQ(jwk_error({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(ed)}}),
            code(Errc::JwkPointInvalid));
}

TEST(JoseJwk, RejectsPointsNotOnTheCurve) {
  Bytes y = unb64(kRfc9449Jwk["y"].get<std::string>());
  y.back() ^= 0x01;
  json off_curve = kRfc9449Jwk;
  off_curve["y"] = base64url_encode(y);
  EXPECT_EQ(jwk_error(off_curve), code(Errc::JwkPointInvalid));

  json zero = kRfc9449Jwk;
  zero["x"] = base64url_encode(Bytes(32, 0));
  zero["y"] = base64url_encode(Bytes(32, 0));
  EXPECT_EQ(jwk_error(zero), code(Errc::JwkPointInvalid));

  // x and y swapped: not a point either.
  json swapped = kRfc9449Jwk;
  swapped["x"] = kRfc9449Jwk["y"];
  swapped["y"] = kRfc9449Jwk["x"];
  EXPECT_EQ(jwk_error(swapped), code(Errc::JwkPointInvalid));
}

TEST(JoseJwk, PublicJwkOfExportsGeneratedKeys) {
  for (const Algorithm alg : kAllAlgorithms) {
    const Signer signer = generated(alg);
    auto exported = public_jwk_of(signer.private_key());
    ASSERT_TRUE(exported) << algorithm_name(alg);
    EXPECT_EQ(*exported, signer.public_jwk());
    EXPECT_EQ(exported->curve(), curve_of(alg));
    const json jwk = exported->to_json();
    EXPECT_FALSE(jwk.contains("d"));
    auto reparsed = parse_public_jwk(jwk);
    ASSERT_TRUE(reparsed);
    EXPECT_EQ(reparsed->thumbprint(), exported->thumbprint());
  }
  EXPECT_EQ(public_jwk_of(nullptr).error(), code(Errc::JwkInvalid));
  auto rsa = tls::generate_key(tls::KeyAlgorithm::Rsa2048);
  ASSERT_TRUE(rsa);
  EXPECT_EQ(public_jwk_of(rsa->get()).error(), code(Errc::JwkUnsupported));
}

TEST(JoseJwk, CoordinatesKeepTheirFixedWidthWithLeadingZeros) {
  // About one P-256 key in 128 has a coordinate below 2^248; its JWK must still carry 32 bytes
  // (RFC 7518 §6.2.1.2), which is what BN_bn2binpad guarantees.
  bool found = false;
  for (int i = 0; i < 4000 && !found; ++i) {
    const Signer signer = generated(Algorithm::ES256);
    const PublicJwk& key = signer.public_jwk();
    if (key.x().front() != 0 && key.y().front() != 0) {
      continue;
    }
    found = true;
    EXPECT_EQ(key.x().size(), 32u);
    EXPECT_EQ(key.y().size(), 32u);
    auto reparsed = parse_public_jwk(key.to_json());
    ASSERT_TRUE(reparsed);
    EXPECT_EQ(*reparsed, key);
  }
  EXPECT_TRUE(found);
}

// ---- algorithms ----

TEST(JoseJws, AlgorithmNames) {
  EXPECT_EQ(algorithm_from_name("ES256"), Algorithm::ES256);
  EXPECT_EQ(algorithm_from_name("ES384"), Algorithm::ES384);
  EXPECT_EQ(algorithm_from_name("EdDSA"), Algorithm::Ed25519);
  EXPECT_EQ(algorithm_from_name("Ed25519"), Algorithm::Ed25519);
  for (const char* other :
       {"none", "None", "HS256", "RS256", "PS256", "ES512", "es256", "", "Ed448"}) {
    EXPECT_FALSE(algorithm_from_name(other)) << other;
  }
  EXPECT_EQ(algorithm_name(Algorithm::ES256), "ES256");
  EXPECT_EQ(algorithm_name(Algorithm::ES384), "ES384");
  EXPECT_EQ(algorithm_name(Algorithm::Ed25519), "EdDSA");
}

// ---- known answers ----

TEST(JoseJws, Rfc7515A3Es256ExampleVerifies) {
  auto jws = parse_compact(kRfc7515A3Jws, kAllAlgorithms);
  ASSERT_TRUE(jws) << describe(jws.error());
  EXPECT_EQ(jws->algorithm, Algorithm::ES256);
  EXPECT_EQ(jws->payload,
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
  EXPECT_EQ(jws->signature.size(), 64u);
  auto key = parse_public_jwk(kRfc7515A3Jwk);
  ASSERT_TRUE(key);
  EXPECT_TRUE(verify_signature(*jws, *key));
  // The same signature under another key does not verify.
  EXPECT_EQ(verify_signature(*jws, *parse_public_jwk(kRfc9449Jwk)).error(),
            code(Errc::SignatureInvalid));
}

TEST(JoseJws, Rfc8037Ed25519SignatureKnownAnswer) {
  const Bytes d = unb64(kRfc8037D);
  tls::EvpPkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, d.data(), d.size()));
  ASSERT_TRUE(key);
  auto signer = Signer::from_private_key(std::move(key));
  ASSERT_TRUE(signer) << describe(signer.error());
  EXPECT_EQ(signer->algorithm(), Algorithm::Ed25519);
  EXPECT_EQ(signer->public_jwk().to_json(), rfc8037_public_jwk());
  // Ed25519 is deterministic (RFC 8032 §5.1.6), so the RFC 8037 A.4 token is reproduced exactly.
  auto token = signer->sign_compact(json::object(), "Example of Ed25519 signing");
  ASSERT_TRUE(token);
  EXPECT_EQ(*token, kRfc8037Jws);

  // RFC 8037 A.5: validation with the public key.
  auto jws = parse_compact(kRfc8037Jws, kAllAlgorithms);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->payload, "Example of Ed25519 signing");
  EXPECT_TRUE(verify_signature(*jws, *parse_public_jwk(rfc8037_public_jwk())));
}

TEST(JoseJws, Rfc9449ExampleProofVerifiesWithItsEmbeddedKey) {
  const std::array allowed{Algorithm::ES256};
  auto jws = parse_compact(kRfc9449Proof, allowed);
  ASSERT_TRUE(jws) << describe(jws.error());
  EXPECT_EQ(jws->header["typ"], "dpop+jwt");
  EXPECT_EQ(jws->header["jwk"], kRfc9449Jwk);
  auto key = parse_public_jwk(jws->header["jwk"]);
  ASSERT_TRUE(key);
  EXPECT_TRUE(verify_signature(*jws, *key));
  auto claims = payload_object(*jws);
  ASSERT_TRUE(claims);
  EXPECT_EQ((*claims)["jti"], "-BwC3ESc6acc2lTc");
  EXPECT_EQ((*claims)["htm"], "POST");
  EXPECT_EQ((*claims)["htu"], "https://server.example.com/token");
  EXPECT_EQ((*claims)["iat"], 1562262616);
}

// ---- round trips ----

TEST(JoseJws, SignsAndVerifiesWithEveryAlgorithm) {
  for (const Algorithm alg : kAllAlgorithms) {
    const Signer signer = generated(alg);
    EXPECT_EQ(signer.algorithm(), alg);
    auto token = signer.sign_compact({{"typ", "JWT"}, {"alg", "HS256"}}, R"({"sub":"x"})");
    ASSERT_TRUE(token) << algorithm_name(alg);
    auto jws = parse_compact(*token, kAllAlgorithms);
    ASSERT_TRUE(jws) << describe(jws.error());
    EXPECT_EQ(jws->algorithm, alg);
    EXPECT_EQ(jws->header["alg"], algorithm_name(alg));  // the signer's, not the one given
    EXPECT_EQ(jws->header["typ"], "JWT");
    EXPECT_EQ(jws->signature.size(), alg == Algorithm::ES384 ? 96u : 64u);
    EXPECT_TRUE(verify_signature(*jws, signer.public_jwk()));

    // Any change to the signing input breaks the signature.
    CompactJws altered = *jws;
    altered.signing_input.back() ^= 0x01;
    EXPECT_EQ(verify_signature(altered, signer.public_jwk()).error(), code(Errc::SignatureInvalid));
    // A signer is copyable and its copies sign with the same key.
    // NOLINTNEXTLINE(performance-unnecessary-copy-initialization): the copy is what is tested
    const Signer copy = signer;
    auto again = parse_compact(copy.sign_compact(json::object(), "x").value(), kAllAlgorithms);
    ASSERT_TRUE(again);
    EXPECT_TRUE(verify_signature(*again, signer.public_jwk()));
  }
}

TEST(JoseJws, SignerFromPrivateKeyInfersTheAlgorithm) {
  auto p384 = tls::generate_key(tls::KeyAlgorithm::EcP384);
  ASSERT_TRUE(p384);
  auto signer = Signer::from_private_key(std::move(*p384));
  ASSERT_TRUE(signer);
  EXPECT_EQ(signer->algorithm(), Algorithm::ES384);

  auto rsa = tls::generate_key(tls::KeyAlgorithm::Rsa2048);
  ASSERT_TRUE(rsa);
  EXPECT_EQ(Signer::from_private_key(std::move(*rsa)).error(), code(Errc::JwkUnsupported));
  EXPECT_EQ(Signer::from_private_key(nullptr).error(), code(Errc::JwkInvalid));

  // A public key cannot sign.
  auto public_only = parse_public_jwk(kRfc9449Jwk);
  ASSERT_TRUE(public_only);
  EVP_PKEY_up_ref(public_only->key());
  EXPECT_EQ(Signer::from_private_key(tls::EvpPkeyPtr(public_only->key())).error(),
            code(Errc::JwkInvalid));
  auto ed_public = parse_public_jwk(rfc8037_public_jwk());
  ASSERT_TRUE(ed_public);
  EVP_PKEY_up_ref(ed_public->key());
  EXPECT_EQ(Signer::from_private_key(tls::EvpPkeyPtr(ed_public->key())).error(),
            code(Errc::JwkInvalid));
}

TEST(JoseJws, SignCompactRefusesBadHeaders) {
  const Signer signer = generated(Algorithm::ES256);
  EXPECT_EQ(signer.sign_compact(json::array(), "x").error(), code(Errc::HeaderInvalid));
  EXPECT_EQ(signer.sign_compact(json("text"), "x").error(), code(Errc::HeaderInvalid));
  EXPECT_EQ(signer.sign_compact({{"kid", "\xff\xfe"}}, "x").error(), code(Errc::HeaderInvalid));
  EXPECT_TRUE(signer.sign_compact(nullptr, "x"));  // null: an empty header
}

TEST(JoseJws, SigningAndVerifyingAreThreadSafe) {
  const Signer signer = generated(Algorithm::ES256);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string payload = std::to_string(t * 100 + i);
        auto token = signer.sign_compact(json::object(), payload);
        if (!token) {
          ++failures;
          continue;
        }
        auto jws = parse_compact(*token, kAllAlgorithms);
        if (!jws || jws->payload != payload || !verify_signature(*jws, signer.public_jwk())) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

// ---- malformed input ----

TEST(JoseJws, RejectsWrongStructure) {
  const std::string good = token_with_header(R"({"alg":"ES256"})");
  ASSERT_FALSE(parse_error(good));
  const std::string h = b64(R"({"alg":"ES256"})");
  for (const std::string& bad : {
           std::string(),
           std::string("abc"),
           h + ".e30",                             // two parts
           good + ".e30",                          // four parts
           good + ".",                             // four parts, last empty
           "." + good.substr(good.find('.') + 1),  // empty header
           h + "..AAAA",                           // empty payload
           h + ".e30.",                            // empty signature
           std::string(".."),
       }) {
    EXPECT_EQ(parse_error(bad), code(Errc::JwsMalformed)) << bad;
  }
  // Size limit, checked before anything is decoded.
  std::string large = h + "." + std::string(kMaxCompactJwsSize, 'A') + ".AAAA";
  EXPECT_EQ(parse_error(large), code(Errc::JwsMalformed));
}

TEST(JoseJws, RejectsBadBase64urlInAnyPart) {
  const std::string h = b64(R"({"alg":"ES256"})");
  const std::string p = b64(R"({"a":1})");
  const std::string s = base64url_encode(Bytes(64, 1));
  const auto join = [](std::string_view a, std::string_view b, std::string_view c) {
    return fmt::format("{}.{}.{}", a, b, c);
  };
  for (const std::string& bad : {
           join(h + "=", p, s),                                // padded header
           join(h, p + "+", s),                                // '+' in payload
           join(h, p, s + "="),                                // padded signature
           join(h, p, s + " "),                                // trailing whitespace
           join(h, p, s + "AAA"),                              // length % 4 == 1
           join(h, p, s.substr(0, s.size() - 1).append("R")),  // non-canonical last char
       }) {
    EXPECT_EQ(parse_error(bad), code(Errc::Base64urlInvalid)) << bad;
  }
}

TEST(JoseJws, RejectsInvalidHeaders) {
  for (const char* header : {
           R"([])",
           R"("ES256")",
           R"(1)",
           R"({"alg":"ES256")",  // not JSON
           R"({"alg":"ES256","alg":"ES256"})",
           R"({"alg":"ES256","alg":"none"})",
           R"({"alg":"ES256","crit":["exp"],"exp":1})",
           R"({"alg":"ES256","crit":[]})",
           R"({"typ":"JWT"})",
           R"({"alg":256})",
           R"({"alg":null})",
           R"({"alg":["ES256"]})",
       }) {
    EXPECT_EQ(parse_error(token_with_header(header)), code(Errc::HeaderInvalid)) << header;
  }
}

TEST(JoseJws, RejectsAlgorithmsNotOnTheAllowlist) {
  for (const char* header : {
           R"({"alg":"none"})",
           R"({"alg":"HS256"})",
           R"({"alg":"RS256"})",
           R"({"alg":"es256"})",
           R"({"alg":""})",
       }) {
    EXPECT_EQ(parse_error(token_with_header(header)), code(Errc::AlgorithmNotAllowed)) << header;
  }
  const std::array only_es256{Algorithm::ES256};
  EXPECT_EQ(parse_error(token_with_header(R"({"alg":"ES384"})"), only_es256),
            code(Errc::AlgorithmNotAllowed));
  EXPECT_EQ(parse_error(token_with_header(R"({"alg":"EdDSA"})"), only_es256),
            code(Errc::AlgorithmNotAllowed));
  EXPECT_FALSE(parse_error(token_with_header(R"({"alg":"ES256"})"), only_es256));
  // Both Ed25519 names are read.
  EXPECT_FALSE(parse_error(token_with_header(R"({"alg":"Ed25519"})")));
  EXPECT_EQ(parse_error(token_with_header(R"({"alg":"ES256"})"), {}),
            code(Errc::AlgorithmNotAllowed));
}

TEST(JoseJws, PayloadObjectRequiresOneJsonObject) {
  const Signer signer = generated(Algorithm::ES256);
  for (const char* payload : {"[]", "1", "\"x\"", "{", R"({"a":1,"a":2})", "not json"}) {
    auto jws = parse_compact(signer.sign_compact(json::object(), payload).value(), kAllAlgorithms);
    ASSERT_TRUE(jws);
    EXPECT_EQ(payload_object(*jws).error(), code(Errc::PayloadInvalid)) << payload;
  }
}

// Algorithm confusion (RFC 8725 §2.1, §3.1): a key verifies only with the algorithm of its curve.
TEST(JoseJws, RejectsAlgorithmsThatDoNotFitTheKey) {
  const Signer es256 = generated(Algorithm::ES256);
  const Signer es384 = generated(Algorithm::ES384);
  const Signer ed25519 = generated(Algorithm::Ed25519);
  auto parsed = [](const Signer& signer) {
    return parse_compact(signer.sign_compact(json::object(), "x").value(), kAllAlgorithms).value();
  };
  EXPECT_EQ(verify_signature(parsed(es256), ed25519.public_jwk()).error(),
            code(Errc::AlgorithmKeyMismatch));
  EXPECT_EQ(verify_signature(parsed(ed25519), es256.public_jwk()).error(),
            code(Errc::AlgorithmKeyMismatch));
  EXPECT_EQ(verify_signature(parsed(es384), es256.public_jwk()).error(),
            code(Errc::AlgorithmKeyMismatch));
  EXPECT_EQ(verify_signature(parsed(es256), es384.public_jwk()).error(),
            code(Errc::AlgorithmKeyMismatch));

  // An Ed25519 signature relabelled ES256 (same 64-byte length) is refused for the Ed25519 key.
  CompactJws relabelled = parsed(ed25519);
  relabelled.algorithm = Algorithm::ES256;
  EXPECT_EQ(verify_signature(relabelled, ed25519.public_jwk()).error(),
            code(Errc::AlgorithmKeyMismatch));
  // "HS256 with the public key as HMAC secret" never gets as far as a key.
  EXPECT_EQ(parse_error(token_with_header(R"({"alg":"HS256"})")), code(Errc::AlgorithmNotAllowed));
}

TEST(JoseJws, RejectsTruncatedAndDerSignatures) {
  for (const Algorithm alg : kAllAlgorithms) {
    const Signer signer = generated(alg);
    const CompactJws good =
        parse_compact(signer.sign_compact(json::object(), "x").value(), kAllAlgorithms).value();
    CompactJws truncated = good;
    truncated.signature.pop_back();
    EXPECT_EQ(verify_signature(truncated, signer.public_jwk()).error(),
              code(Errc::SignatureInvalid));
    CompactJws extended = good;
    extended.signature.push_back(0);
    EXPECT_EQ(verify_signature(extended, signer.public_jwk()).error(),
              code(Errc::SignatureInvalid));
    CompactJws zeros = good;
    std::fill(zeros.signature.begin(), zeros.signature.end(), 0);
    EXPECT_EQ(verify_signature(zeros, signer.public_jwk()).error(), code(Errc::SignatureInvalid));
  }

  // The DER form of a valid ES256 signature (what OpenSSL emits natively) is refused.
  const Signer signer = generated(Algorithm::ES256);
  const CompactJws good =
      parse_compact(signer.sign_compact(json::object(), "x").value(), kAllAlgorithms).value();
  ASSERT_TRUE(verify_signature(good, signer.public_jwk()));
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(good.signature.data(), 32, nullptr),
                 BN_bin2bn(good.signature.data() + 32, 32, nullptr));
  Bytes der(static_cast<std::size_t>(i2d_ECDSA_SIG(sig, nullptr)));
  unsigned char* out = der.data();
  i2d_ECDSA_SIG(sig, &out);
  ECDSA_SIG_free(sig);
  CompactJws as_der = good;
  as_der.signature = der;
  EXPECT_EQ(verify_signature(as_der, signer.public_jwk()).error(), code(Errc::SignatureInvalid));
  // Also through the parser: the token text with a DER signature.
  const std::string token = good.signing_input + "." + base64url_encode(der);
  auto reparsed = parse_compact(token, kAllAlgorithms);
  ASSERT_TRUE(reparsed);
  EXPECT_EQ(verify_signature(*reparsed, signer.public_jwk()).error(), code(Errc::SignatureInvalid));
}

TEST(JoseErrors, NamesAreStable) {
  EXPECT_EQ(error_id(code(Errc::JwsMalformed)), "jose.jws_malformed");
  EXPECT_EQ(error_id(code(Errc::AlgorithmKeyMismatch)), "jose.algorithm_key_mismatch");
  EXPECT_EQ(error_id(code(Errc::JwkPointInvalid)), "jose.jwk_point_invalid");
  EXPECT_EQ(error_id(code(Errc::KeyGenerationFailed)), "jose.key_generation_failed");
  EXPECT_EQ(jose_category().name(), std::string("jose"));
}

}  // namespace
}  // namespace atls::sts::jose
