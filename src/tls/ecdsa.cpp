#include "tls/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/ec.h>

#include <limits>

#include "tls/ossl.h"

namespace atls::tls {
namespace {

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;

}  // namespace

Bytes ecdsa_der_from_components(ByteView r, ByteView s) {
  constexpr auto kMaxInt = static_cast<std::size_t>(std::numeric_limits<int>::max());
  if (r.size() > kMaxInt || s.size() > kMaxInt) {
    return {};
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r_bn(BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr));
  BignumPtr s_bn(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  if (!sig || !r_bn || !s_bn || ECDSA_SIG_set0(sig.get(), r_bn.get(), s_bn.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  static_cast<void>(r_bn.release());  // owned by sig now
  static_cast<void>(s_bn.release());
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) {
    ERR_clear_error();
    return {};
  }
  Bytes der(static_cast<std::size_t>(size));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != size) {
    ERR_clear_error();
    return {};
  }
  return der;
}

Bytes ecdsa_raw_from_der(ByteView der, std::size_t width) {
  if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max()) ||
      width > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return {};
  }
  const unsigned char* in = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size())));
  // The whole input must be the one value (d2i stops after it).
  if (!sig || in != der.data() + der.size()) {
    ERR_clear_error();
    return {};
  }
  Bytes raw(2 * width);
  const int padded = static_cast<int>(width);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), padded) != padded ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + width, padded) != padded) {
    ERR_clear_error();
    return {};
  }
  return raw;
}

}  // namespace atls::tls
