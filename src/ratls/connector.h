#pragma once
// Dialing an attested channel: TCP connect, TLS 1.3 handshake with server-name verification,
// then the flashbots-ratls/1 exchange (interop spec §2). Used by the proxy-client, attested-get
// and get-tls-cert.

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "net/address.h"
#include "ratls/channel.h"
#include "tls/context.h"

namespace atls::ratls {

struct Channel {
  std::unique_ptr<TlsStream> stream;
  ChannelInfo info;
};

/// Connects to `target` and establishes an attested channel. Errors carry the step that failed
/// (connect, TLS, attestation) and the target in their detail.
boost::asio::awaitable<Outcome<Channel>> connect_channel(net::HostPort target,
                                                         tls::SharedSslContext context,
                                                         ChannelConfig config);

}  // namespace atls::ratls
