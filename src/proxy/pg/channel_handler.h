#pragma once
// The proxy-server's request handler in database mode: every stream of an attested channel
// must be a database tunnel (CONNECT, docs/protocol.md §6); it is answered 200 at once and then
// served as a pgwire client (frontend.h). Anything else gets 405 (or 400 for a tunnel without
// a valid source address).

#include <memory>

#include "http/exchange.h"
#include "proxy/http/attested_server.h"
#include "proxy/pg/frontend.h"

namespace atls::proxy::pg {

/// A HandlerFactory for AttestedServer.
HandlerFactory make_channel_handler_factory(std::shared_ptr<const PgServerConfig> config);

}  // namespace atls::proxy::pg
