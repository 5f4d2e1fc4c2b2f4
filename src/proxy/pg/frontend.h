#pragma once
// The proxy-server's side of one database client (standards.md §5.6 steps 2-7), whether it
// arrived as a CONNECT stream of an attested channel or on the direct-mode TLS listener:
//
//   read the first packet strictly -> (in-band SSLRequest/GSSENCRequest: 'N')
//   CancelRequest -> look up the proxy-issued key, forward the real one, never answer
//   StartupMessage -> allowlist and host-based rules -> backend connection -> the packet,
//                     unchanged -> splice, with BackendKeyData replaced by proxy-issued keys
//
// Rejections are pgwire ErrorResponses (FATAL 28000) and are reported to a hook with their
// named reason (pg-server records them in the audit log).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "proxy/pg/backend.h"
#include "proxy/pg/cancel_map.h"
#include "proxy/pg/duplex.h"
#include "proxy/pg/hba.h"
#include "proxy/pg/wire.h"

namespace atls::proxy::pg {

/// One refused connection or cancel, as reported to the RejectionHook. Never contains
/// passwords or keys; user and database are client-chosen text (not metric labels).
struct Rejection {
  ErrorCode reason;    ///< pg.* id: allowlist_rejected, hba_rejected, tls_required, ...
  std::string client;  ///< "ip:port" of the client as the rules saw it
  std::string via;     ///< "channel <peer>" or "direct"
  std::string user;    ///< empty when rejected before the start-up message
  std::string database;
  std::size_t hba_line = 0;  ///< matching rule, 0 for none
};

/// Called for every rejection, on an I/O thread (must be thread-safe and must not block).
using RejectionHook = std::function<void(const Rejection&)>;

struct PgServerConfig {
  std::shared_ptr<const BackendConnector> backend;
  std::shared_ptr<const HbaRules> hba;           ///< null: every connection passes
  std::shared_ptr<const IpAllowlist> allowlist;  ///< null: every address passes
  std::shared_ptr<CancelMap> cancels;            ///< required
  RejectionHook on_reject;                       ///< may be empty
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(30)};
};

/// What the proxy-server knows about a client.
struct FrontendContext {
  boost::asio::ip::address address;  ///< the client's address (rules and allowlist)
  std::uint16_t port = 0;
  std::string via;        ///< for logs: "channel 10.0.0.5:41234" / "direct"
  bool tls = true;        ///< the path to the proxy-server is encrypted
  bool attested = false;  ///< the proxy-client's attestation was verified
  /// Allowlist already enforced by the caller (the direct listener drops before TLS).
  bool allowlist_checked = false;
};

/// Serves one client until its session ends. Never throws.
boost::asio::awaitable<void> serve_frontend(Duplex& client, FrontendContext context,
                                            std::shared_ptr<const PgServerConfig> config);

/// Handles one CancelRequest (any path): looks it up and forwards the real key to the backend;
/// the client gets no answer (§55.2.7). Logs the outcome.
boost::asio::awaitable<void> handle_cancel(const CancelRequest& cancel,
                                           const FrontendContext& context,
                                           const PgServerConfig& config);

/// Reads one start-up packet (length checked before the body is read). Returns the raw
/// packet and its parse. Errors: pg.* packet errors, ClientClosed, transport errors.
boost::asio::awaitable<Result<std::pair<Bytes, StartupPacket>>> read_startup_packet(Duplex& duplex);

/// Sends a FATAL ErrorResponse and closes our direction (best effort).
boost::asio::awaitable<void> send_fatal(Duplex& client, std::string_view sqlstate,
                                        std::string_view message, std::string_view detail = {});

/// Reports a rejection to the hook and the log.
void report_rejection(const PgServerConfig& config, Rejection rejection);

}  // namespace atls::proxy::pg
