#pragma once
// The proxy-server's request handler (interop spec §7.3): forwards each request received on an
// attested channel to the target over HTTP/1.1, rewriting headers as flashbots does — Host is
// the target address, X-Real-IP / X-Forwarded-For name the channel's peer — and injecting the
// client's attestation (§7.4). Spoofed attestation headers from the client are always removed.
//
// WebSocket: an RFC 8441 extended CONNECT (from an HTTP/2 channel) becomes an HTTP/1.1 Upgrade
// towards the target; an HTTP/1.1 Upgrade (HTTP/1.1 channel) is forwarded as such.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/http/attestation_headers.h"
#include "proxy/http/attested_server.h"
#include "proxy/http/origin_pool.h"

namespace atls::proxy {

class TargetForwarder {
 public:
  /// One pool per I/O thread of the server's runtime; `host_header` is the target address as
  /// the operator wrote it.
  TargetForwarder(std::vector<std::unique_ptr<OriginPool>> pools, std::string host_header);

  http::RequestHandler handler_for(const ChannelContext& context);

  /// Told the status of every target response, or 0 when the target failed (metrics). Set
  /// before serving; called on I/O threads.
  void set_response_observer(std::function<void(int status)> observer) {
    observer_ = std::make_shared<const std::function<void(int)>>(std::move(observer));
  }

 private:
  std::vector<std::unique_ptr<OriginPool>> pools_;
  std::string host_header_;
  std::shared_ptr<const std::function<void(int)>> observer_;
};

/// The request sent to the target for `request` received from a channel whose client has the
/// address `channel_peer_ip` (textual, §7.3's X-Real-IP) and whose attestation gives the header
/// values `attestation` (exposed for tests).
http::RequestHead make_target_request(const http::RequestHead& request,
                                      const std::string& host_header,
                                      std::string_view channel_peer_ip,
                                      const AttestationHeaderValues& attestation);

}  // namespace atls::proxy
