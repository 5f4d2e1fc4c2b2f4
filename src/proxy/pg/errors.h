#pragma once
// Named failures of the database (pgwire) mode: startup-packet parsing (PostgreSQL protocol
// docs §55.2 "Message Flow – Start-up", §55.7 "Message Formats"), host-based rules, the cancel
// map, the backend connection and the splice. Ids read "pg.<name>"; they appear in logs, in the
// rejection hook (audit) and, with the operations work, in metrics.

#include "core/error.h"

namespace atls::proxy::pg {

enum class Errc {
  // ---- startup-phase packets (standards.md §5.1) ----
  PacketTooShort = 1,
  PacketTooLong,
  PacketTruncated,
  UnsupportedProtocolVersion,
  InvalidSpecialRequest,
  UnterminatedString,
  MissingTerminator,
  TrailingBytes,
  DuplicateParameter,
  MissingUser,
  UnencryptedDataAfterSslRequest,
  TooManyNegotiations,
  TlsRequired,
  DirectTlsWithoutAlpn,
  // ---- backend messages ----
  BackendMessageInvalid,
  BackendKeyDataInvalid,
  // ---- host-based rules and allowlist (standards.md §5.7) ----
  HbaSyntax,
  HbaUnsupported,
  HbaRejected,
  HbaNoMatch,
  HbaNotAttested,
  AllowlistSyntax,
  AllowlistRejected,
  // ---- cancel requests (standards.md §5.4) ----
  CancelUnknownKey,
  CancelThrottled,
  CancelForwardFailed,
  CancelKeyUnavailable,
  // ---- backend connection (standards.md §5.6 step 5) ----
  BackendConnectFailed,
  BackendTlsRefused,
  BackendTlsFailed,
  BackendTlsConfig,
  BackendClosed,
  // ---- the tunnel ----
  ChannelUnavailable,
  TunnelRefused,
  SourceAddressInvalid,
  StartupTimeout,
  ClientClosed,
  LocalTlsFailed,
};

ATLS_DECLARE_ERRC(Errc, pg_category)

}  // namespace atls::proxy::pg

ATLS_REGISTER_ERRC(atls::proxy::pg::Errc);
