#include "proxy/pg/channel_handler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>

#include "http/h1_server.h"
#include "proxy/pg/errors.h"
#include "proxy/pg/tunnel.h"

namespace atls::proxy::pg {

namespace asio = boost::asio;

namespace {

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), endpoint.port())
                         : fmt::format("{}:{}", address.to_string(), endpoint.port());
}

asio::awaitable<void> serve_tunnel(http::ServerExchangePtr exchange,
                                   std::shared_ptr<const PgServerConfig> config,
                                   ChannelContext channel) {
  const http::RequestHead& request = exchange->request();
  if (!is_tunnel_request(request)) {
    auto refused = http::make_text_response(
        405, "this proxy-server carries database tunnels only (CONNECT)\n");
    refused.head.headers.add("allow", "CONNECT");
    exchange->send_response(std::move(refused.head), std::move(refused.body));
    co_return;
  }
  const auto source = tunnel_source(request);
  if (!source) {
    spdlog::warn("pg: tunnel from channel {} refused: {}", endpoint_text(channel.peer),
                 error_id(make_error_code(Errc::SourceAddressInvalid)));
    auto refused = http::make_text_response(400, "missing or invalid source address\n");
    exchange->send_response(std::move(refused.head), std::move(refused.body));
    co_return;
  }
  auto to_client = std::make_shared<http::BodyPipe>();
  http::ResponseHead head;
  head.status = 200;
  head.version = http::Version::Http2;
  head.has_body = true;
  exchange->send_response(std::move(head), to_client);

  PipeDuplex client(exchange->request_body(), to_client);
  FrontendContext context;
  context.address = normalize_address(source->address());
  context.port = source->port();
  context.via = "channel " + endpoint_text(channel.peer);
  context.tls = true;
  context.attested = channel.channel && channel.channel->peer.attested();
  co_await serve_frontend(client, std::move(context), std::move(config));
}

}  // namespace

HandlerFactory make_channel_handler_factory(std::shared_ptr<const PgServerConfig> config) {
  return [config](const ChannelContext& channel) -> http::RequestHandler {
    return [config, channel](http::ServerExchangePtr exchange) {
      return serve_tunnel(std::move(exchange), config, channel);
    };
  };
}

}  // namespace atls::proxy::pg
