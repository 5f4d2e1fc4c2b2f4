#include "proxy/http/forward_to_target.h"

#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>

#include "http/semantics.h"
#include "proxy/http/attestation_headers.h"

namespace atls::proxy {

namespace asio = boost::asio;
using http::RequestHead;
using http::ResponseHead;

namespace {

// What every request of one channel shares, built once per channel rather than per request
// (the textual peer address costs an inet_ntop, the host a string copy, the measurement header
// a JSON serialisation). Shared with each request's coroutine, which may outlive the channel's
// session.
struct ChannelForwarding {
  OriginPool* pool = nullptr;
  std::string host_header;
  std::string channel_peer_ip;
  AttestationHeaderValues attestation;
  std::shared_ptr<const std::function<void(int)>> observer;
};

asio::awaitable<void> forward(http::ServerExchangePtr exchange,
                              std::shared_ptr<const ChannelForwarding> forwarding) {
  OriginPool& pool = *forwarding->pool;
  const auto& observer = forwarding->observer;
  const RequestHead& request = exchange->request();
  if (http::is_tunnel_connect(request)) {
    auto refused = http::make_text_response(405, "CONNECT is not supported here\n");
    exchange->send_response(std::move(refused.head), std::move(refused.body));
    co_return;
  }
  const bool extended_websocket = http::is_websocket_connect(request);
  RequestHead upstream = make_target_request(request, forwarding->host_header,
                                             forwarding->channel_peer_ip, forwarding->attestation);
  std::weak_ptr<http::ServerExchange> weak = exchange;
  // Named and of the parameter's exact type: see the GCC 12 note in core/offload.h.
  http::InformationalHandler relay_interim = [weak](const ResponseHead& interim) {
    if (auto ex = weak.lock()) {
      ex->send_informational(interim);
    }
  };
  http::BodyPipePtr request_body = exchange->request_body();
  auto response =
      co_await pool.send(std::move(upstream), std::move(request_body), std::move(relay_interim));
  if (observer && *observer) {
    (*observer)(response ? response->head.status : 0);
  }
  if (!response) {
    spdlog::warn("{} {}: target failed: {}", request.method, request.target,
                 response.error().describe());
    // §7.5: 502 with the error text.
    auto failed =
        http::make_text_response(502, "Request failed: " + response.error().describe() + "\n");
    exchange->send_response(std::move(failed.head), std::move(failed.body));
    co_return;
  }
  ResponseHead head = std::move(response->head);
  const bool switched = head.status == 101;
  http::strip_connection_fields(head.headers);
  http::drop_invalid_fields(head.headers);
  if (switched && extended_websocket) {
    // RFC 8441 §5: the HTTP/2 side answers the extended CONNECT with 2xx; the accept key
    // belongs to the HTTP/1.1 handshake with the target.
    head.status = 200;
    head.headers.erase("sec-websocket-accept");
  } else if (switched) {
    head.headers.add("connection", "upgrade");
    head.headers.add("upgrade", "websocket");
  }
  exchange->send_response(std::move(head), std::move(response->body));
}

}  // namespace

RequestHead make_target_request(const RequestHead& request, const std::string& host_header,
                                std::string_view channel_peer_ip,
                                const AttestationHeaderValues& attestation) {
  RequestHead upstream;
  upstream.method = request.method;
  upstream.target = request.target.empty() ? "/" : request.target;
  upstream.version = http::Version::Http11;
  upstream.headers = request.headers;
  upstream.has_body = request.has_body;
  upstream.content_length = request.content_length;
  const bool websocket_h1 = http::is_websocket_upgrade(request);
  http::strip_connection_fields(upstream.headers);
  http::drop_invalid_fields(upstream.headers);
  // §7.3: Host is the target address exactly as configured.
  upstream.headers.erase("host");
  upstream.authority = host_header;
  // §7.3: X-Real-IP is the channel's peer; X-Forwarded-For appends it to the first value.
  upstream.headers.set("x-real-ip", channel_peer_ip);
  const auto forwarded = request.headers.get("x-forwarded-for");
  if (forwarded && !http::trim_ows(*forwarded).empty()) {
    std::string appended(http::trim_ows(*forwarded));
    appended.append(", ").append(channel_peer_ip);
    upstream.headers.set("x-forwarded-for", appended);
  } else {
    upstream.headers.set("x-forwarded-for", channel_peer_ip);
  }
  set_attestation_headers(upstream.headers, attestation);

  if (http::is_websocket_connect(request)) {
    // RFC 8441 §5 -> RFC 6455 §4.1: the same WebSocket as an HTTP/1.1 upgrade.
    upstream.method = "GET";
    upstream.has_body = false;
    upstream.content_length.reset();
    upstream.headers.add("connection", "upgrade");
    upstream.headers.add("upgrade", "websocket");
    if (!upstream.headers.contains("sec-websocket-version")) {
      upstream.headers.add("sec-websocket-version", "13");
    }
    upstream.headers.set("sec-websocket-key", http::make_websocket_key());
  } else if (websocket_h1) {
    upstream.has_body = false;
    upstream.headers.add("connection", "upgrade");
    upstream.headers.add("upgrade", "websocket");
  }
  return upstream;
}

TargetForwarder::TargetForwarder(std::vector<std::unique_ptr<OriginPool>> pools,
                                 std::string host_header)
    : pools_(std::move(pools)), host_header_(std::move(host_header)) {}

http::RequestHandler TargetForwarder::handler_for(const ChannelContext& context) {
  auto forwarding = std::make_shared<ChannelForwarding>();
  forwarding->pool = pools_.at(context.io_index).get();
  forwarding->host_header = host_header_;
  forwarding->channel_peer_ip = context.peer.address().to_string();
  forwarding->attestation = attestation_header_values(context.channel->peer);
  forwarding->observer = observer_;
  return [shared = std::shared_ptr<const ChannelForwarding>(std::move(forwarding))](
             http::ServerExchangePtr exchange) { return forward(std::move(exchange), shared); };
}

}  // namespace atls::proxy
