#pragma once
// Errors of the command-line layer that are not another module's (core/error.h).

#include "core/error.h"

namespace atls::cli {

enum class Errc {
  /// The command line or the config file does not parse (a reload re-reads the file).
  ConfigInvalid = 1,
  /// The kernel refuses the network I/O backend this binary was built for (io_uring:
  /// sysctl kernel.io_uring_disabled, a seccomp filter; core/io_backend.h).
  IoBackendUnavailable = 2,
};

ATLS_DECLARE_ERRC(Errc, cli_category)

}  // namespace atls::cli

ATLS_REGISTER_ERRC(atls::cli::Errc);
