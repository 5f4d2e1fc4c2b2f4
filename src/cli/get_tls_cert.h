#pragma once

#include <optional>
#include <string>

#include "cli/common.h"

namespace atls::cli {

struct GetTlsCertOptions {
  std::string server;  ///< host[:port], port 443 by default
  ClientTlsFlags tls;  ///< only ca_certificate and allow_self_signed apply
  std::optional<std::string> out_measurements;
};

/// `get-tls-cert` (interop spec §8.4): attested connect, verify, print the server's PEM chain.
int run_get_tls_cert(const GlobalOptions& global, const GetTlsCertOptions& options);

}  // namespace atls::cli
