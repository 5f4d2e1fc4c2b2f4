// Fuzzes the JOSE parsers (RFC 7515 §7.1 compact JWS, RFC 7517 JWK): any input must parse or fail
// with a named error. Properties: base64url decoding accepts only canonical text (decoding then
// encoding gives the input back), a parsed JWS re-serialises to the input, and an imported JWK
// re-imports to the same key and thumbprint. A header "jwk" is imported and, when it imports,
// the signature is checked with it (what a DPoP verifier does).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sts/jose/base64url.h"
#include "sts/jose/jwk.h"
#include "sts/jose/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atls::sts::jose;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto decoded = base64url_decode(input); decoded && base64url_encode(*decoded) != input) {
    std::abort();  // two texts for one byte string
  }
  auto jws = parse_compact(input, kAllAlgorithms);
  if (!jws) {
    return 0;
  }
  if (jws->signing_input + "." + base64url_encode(jws->signature) != input) {
    std::abort();  // the parts decoded are not the parts given
  }
  (void)payload_object(*jws);
  const auto jwk = jws->header.find("jwk");
  if (jwk == jws->header.end()) {
    return 0;
  }
  auto key = parse_public_jwk(*jwk);
  if (!key) {
    return 0;
  }
  auto again = parse_public_jwk(key->to_json());
  if (!again || !(*again == *key) || again->thumbprint() != key->thumbprint()) {
    std::abort();
  }
  (void)verify_signature(*jws, *key);
  return 0;
}
