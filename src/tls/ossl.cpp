#include "tls/ossl.h"

namespace atls::tls {

std::string drain_openssl_errors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!out.empty()) {
      out += "; ";
    }
    out += buffer;
  }
  return out;
}

}  // namespace atls::tls
