#pragma once
// Named failures of the HTTP layer (both versions, both roles).

#include "core/error.h"

namespace atls::http {

enum class Errc {
  MalformedRequest = 1,
  MalformedResponse,
  HeaderTooLarge,
  ConnectionClosed,
  BodyTruncated,
  StreamReset,
  StreamRefused,
  GoAway,
  ProtocolError,
  Timeout,
  UpgradeRefused,
  TooManyStreams,
  NoResponse,
};

ATLS_DECLARE_ERRC(Errc, http_category)

}  // namespace atls::http

ATLS_REGISTER_ERRC(atls::http::Errc);
