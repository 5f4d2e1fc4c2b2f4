#pragma once
// The two roles every HTTP path in the proxy is built from, independent of HTTP version:
//
//   ServerExchange   one request received by a front-end (an HTTP/1.1 connection or an HTTP/2
//                    stream), answered by a RequestHandler;
//   UpstreamSession  a connection or session that sends requests onward (to the target, or
//                    over the attested channel) and yields their responses.
//
// Bodies flow through BodyPipes in both directions, so a proxy handler is a short coroutine
// that connects the pipes of one exchange to those of one upstream request. A successful
// upgrade (101) or CONNECT (2xx) turns the same two pipes into the two directions of a tunnel.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/body_pipe.h"
#include "http/message.h"

namespace atls::http {

class ServerExchange {
 public:
  virtual ~ServerExchange() = default;

  const RequestHead& request() const noexcept { return request_; }
  /// Bytes of the request body (or, after a successful upgrade/CONNECT, the tunnel bytes from
  /// the client). Never null; already ended when the request has no body.
  const BodyPipePtr& request_body() const noexcept { return request_body_; }
  /// The address of the connection's peer (the TCP peer of this front-end).
  const boost::asio::ip::address& peer_address() const noexcept { return peer_address_; }

  /// Sends an interim response (1xx other than 101), e.g. 100 Continue relayed from upstream.
  virtual void send_informational(const ResponseHead& head) = 0;
  /// Sends the final response. `body` null = no content. After a 101 (HTTP/1.1 upgrade) or a
  /// 2xx answer to CONNECT, `body` carries the tunnel bytes towards the client.
  virtual void send_response(ResponseHead head, BodyPipePtr body) = 0;
  /// Whether send_response() was called.
  virtual bool responded() const noexcept = 0;

 protected:
  RequestHead request_;
  BodyPipePtr request_body_;
  boost::asio::ip::address peer_address_;
};

using ServerExchangePtr = std::shared_ptr<ServerExchange>;

/// Handles one request; must call send_response() exactly once (a front-end answers 502 for a
/// handler that returns without responding). Runs on the front-end's executor.
using RequestHandler = std::function<boost::asio::awaitable<void>(ServerExchangePtr)>;

struct UpstreamResponse {
  ResponseHead head;
  /// Response body, or tunnel bytes after 101/2xx-to-CONNECT; null when there is no content.
  BodyPipePtr body;
};

using InformationalHandler = std::function<void(const ResponseHead&)>;

class UpstreamSession {
 public:
  virtual ~UpstreamSession() = default;

  /// Sends `request`; its body (or tunnel bytes) is read from `request_body` while the
  /// response arrives. Completes with the final response head; interim 1xx responses go to
  /// `on_informational`. Errors: the session's named errors (connection lost, reset, ...).
  virtual boost::asio::awaitable<Outcome<UpstreamResponse>> send(
      RequestHead request, BodyPipePtr request_body, InformationalHandler on_informational) = 0;

  /// Whether a new request may be sent now (open, not draining, below concurrency limits).
  virtual bool can_send() const noexcept = 0;
  /// Whether the session has failed or been closed for good.
  virtual bool closed() const noexcept = 0;
};

}  // namespace atls::http
