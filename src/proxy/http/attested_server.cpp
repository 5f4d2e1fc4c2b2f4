#include "proxy/http/attested_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "http/stream_util.h"
#include "net/errors.h"
#include "proxy/accept_loop.h"

namespace atls::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

Outcome<std::unique_ptr<tcp::acceptor>> listen_on(asio::io_context& io,
                                                  const tcp::endpoint& endpoint) {
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  boost::system::error_code ec;
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Failure{make_error_code(net::Errc::InvalidAddress),
                   fmt::format("cannot listen on {}:{}: {}", endpoint.address().to_string(),
                               endpoint.port(), ec.message())};
  }
  return acceptor;
}

AttestedServer::AttestedServer(Runtime& runtime, AttestedServerOptions options,
                               HandlerFactory handlers)
    : runtime_(runtime),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      tls_(options_.tls),
      limit_(options_.max_connections, options_.on_connection_refused) {}

Outcome<tcp::endpoint> AttestedServer::start() {
  auto acceptor = listen_on(runtime_.main_io(), options_.listen);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_connections(
      acceptor_.get(), &runtime_, &limit_, "attested listener",
      [this](tcp::socket socket, std::size_t io_index, ConnectionLimit::Slot slot) {
        return serve(std::move(socket), io_index, std::move(slot));
      });
  asio::co_spawn(runtime_.main_io(), std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void AttestedServer::stop_accepting() {
  if (acceptor_) {
    asio::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    });
  }
}

void AttestedServer::drain() {
  stop_accepting();
  std::lock_guard lock(channels_mutex_);
  draining_ = true;
  for (const auto& [serial, channel] : channels_) {
    channel.close_gracefully();
  }
}

std::size_t AttestedServer::close_channels_if(
    const std::function<bool(const ratls::ChannelInfo&)>& reject) {
  std::lock_guard lock(channels_mutex_);
  std::size_t closed = 0;
  for (const auto& [serial, channel] : channels_) {
    if (reject(*channel.info)) {
      channel.close_gracefully();
      ++closed;
    }
  }
  return closed;
}

asio::awaitable<void> AttestedServer::serve(tcp::socket socket, std::size_t io_index,
                                            [[maybe_unused]] ConnectionLimit::Slot slot) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  const std::string peer_text = fmt::format("{}:{}", peer.address().to_string(), peer.port());
  // Held for the connection's lifetime: a certificate reload may replace the slot's context.
  const tls::SharedSslContext tls_context = tls_.get();
  http::TlsStream stream(boost::beast::tcp_stream(std::move(socket)), *tls_context);
  auto channel = co_await ratls::accept_channel(stream, options_.channel);
  if (!channel) {
    spdlog::warn("channel from {} refused: {}", peer_text, channel.error().describe());
    http::abort_stream(stream);
    co_return;
  }
  const auto& peer_attestation = channel->peer;
  if (peer_attestation.attested()) {
    spdlog::info("channel from {} ({}): client attested as {} ({})", peer_text, channel->alpn,
                 attest::to_string(peer_attestation.reported_type()),
                 peer_attestation.matched_record);
  } else {
    spdlog::info("channel from {} ({}): client unattested{}", peer_text, channel->alpn,
                 peer_attestation.downgrade_reason.empty()
                     ? ""
                     : " (" + peer_attestation.downgrade_reason + ")");
  }
  ChannelContext context;
  context.peer = peer;
  context.channel = std::make_shared<const ratls::ChannelInfo>(std::move(*channel));
  context.io_index = io_index;
  http::RequestHandler handler = handlers_(context);

  // Registered for drain() and close_channels_if(): how to close this channel gracefully.
  const auto register_channel = [this, &context](std::function<void()> close_gracefully) {
    std::lock_guard lock(channels_mutex_);
    const std::uint64_t serial = next_channel_++;
    channels_[serial] = LiveChannel{context.channel, close_gracefully};
    if (draining_) {
      close_gracefully();
    }
    return serial;
  };
  const auto unregister_channel = [this](std::uint64_t serial) {
    std::lock_guard lock(channels_mutex_);
    channels_.erase(serial);
  };

  if (context.channel->http_version == ratls::HttpVersion::Http2) {
    auto session = http::H2Session<http::TlsStream>::make_server(
        std::move(stream), options_.h2, std::move(handler), peer.address());
    if (session) {
      auto executor = co_await asio::this_coro::executor;
      std::weak_ptr weak = session;
      const std::uint64_t serial = register_channel([weak, executor] {
        asio::post(executor, [weak] {
          if (auto live = weak.lock()) {
            live->shutdown();  // GOAWAY; open streams finish
          }
        });
      });
      const ErrorCode reason = co_await session->run();
      unregister_channel(serial);
      spdlog::debug("channel from {} ended: {}", peer_text,
                    reason ? describe(reason) : std::string("closed"));
    }
  } else {
    // Each HTTP/1.1 channel has its own drain signal, so that one channel can be closed
    // gracefully (idle: now; busy: after its current response) without the others.
    http::H1ServerOptions h1 = options_.h1;
    h1.drain = std::make_shared<http::DrainSignal>();
    const std::uint64_t serial = register_channel([drain = h1.drain] { drain->start(); });
    boost::beast::flat_buffer buffer;
    const asio::ip::address peer_address = peer.address();
    co_await http::serve_h1(stream, buffer, peer_address, std::move(handler), h1);
    unregister_channel(serial);
    spdlog::debug("channel from {} ended", peer_text);
  }
  if (options_.channel.observer) {
    options_.channel.observer->on_channel_closed(ratls::ChannelRole::Server);
  }
  // `slot` is released with the coroutine frame: the connection no longer counts.
}

}  // namespace atls::proxy
