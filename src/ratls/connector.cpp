#include "ratls/connector.h"

#include "net/connect.h"

namespace atls::ratls {

boost::asio::awaitable<Outcome<Channel>> connect_channel(net::HostPort target,
                                                         tls::SharedSslContext context,
                                                         ChannelConfig config) {
  auto tcp = co_await net::connect_tcp(target, config.step_timeout);
  if (!tcp) {
    co_return tcp.error();
  }
  Channel channel;
  channel.stream = std::make_unique<TlsStream>(boost::beast::tcp_stream(std::move(*tcp)), *context);
  auto info = co_await open_channel(*channel.stream, target.host, config);
  if (!info) {
    Failure failure = info.error();
    failure.detail = target.to_string() + ": " + failure.detail;
    co_return failure;
  }
  channel.info = std::move(*info);
  co_return channel;
}

}  // namespace atls::ratls
