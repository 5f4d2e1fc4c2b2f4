#pragma once

#include "core/error.h"

namespace atls::net {

enum class Errc {
  InvalidAddress = 1,
  InvalidPort,
  InvalidUrl,
  UnsupportedScheme,
  ResolveFailed,
  ConnectFailed,
  TlsFailed,
  Timeout,
  HttpStatus,
  BodyTooLarge,
  ProtocolError,
};

ATLS_DECLARE_ERRC(Errc, net_category)

}  // namespace atls::net

ATLS_REGISTER_ERRC(atls::net::Errc);
