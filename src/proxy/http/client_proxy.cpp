#include "proxy/http/client_proxy.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "http/semantics.h"
#include "http/stream_util.h"
#include "proxy/http/attestation_headers.h"
#include "proxy/http/attested_server.h"

namespace atls::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using http::RequestHead;
using http::ResponseHead;

namespace {

// RFC 9113 §3.4: the client connection preface of HTTP/2 with prior knowledge.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

RequestHead make_channel_request(const RequestHead& source, ratls::HttpVersion channel,
                                 std::string_view fallback_host) {
  RequestHead out;
  out.method = source.method;
  out.target = source.target.empty() ? "/" : source.target;
  out.version = source.version;
  out.headers = source.headers;
  out.has_body = source.has_body;
  out.content_length = source.content_length;
  out.protocol = source.protocol;
  const bool websocket_h1 = http::is_websocket_upgrade(source);
  http::strip_connection_fields(out.headers);
  http::drop_invalid_fields(out.headers);
  // A source client must not be able to forge what the proxy-server asserts about us.
  strip_attestation_headers(out.headers);
  if (!out.headers.contains("host")) {
    out.headers.add("host",
                    !source.authority.empty() ? std::string_view(source.authority) : fallback_host);
  }
  if (channel == ratls::HttpVersion::Http2) {
    // As the flashbots proxy-client sends it (§7.1): :scheme http, :path, no :authority, Host
    // as a regular field. An h2c source's extended CONNECT keeps its :authority.
    out.scheme = "http";
    out.authority = source.method == "CONNECT" ? source.authority : std::string();
    if (websocket_h1) {
      // RFC 8441 §5: the HTTP/1.1 upgrade becomes an extended CONNECT.
      out.method = "CONNECT";
      out.protocol = "websocket";
      out.has_body = false;
      out.headers.erase("sec-websocket-key");
      out.authority = std::string(source.headers.get("host").value_or(source.authority));
      out.headers.erase("host");
    }
  } else if (websocket_h1) {
    out.headers.add("connection", "upgrade");
    out.headers.add("upgrade", "websocket");
    out.has_body = false;
  }
  return out;
}

ClientProxy::ClientProxy(asio::io_context& io, ClientProxyOptions options)
    : io_(io),
      options_(std::move(options)),
      pool_(io.get_executor(), options_.pool),
      limit_(options_.max_connections, options_.on_connection_refused),
      server_authority_(options_.pool.server.to_string()) {
  if (!options_.h1.drain) {
    options_.h1.drain = drain_;
  } else {
    drain_ = options_.h1.drain;
  }
}

asio::awaitable<Outcome<void>> ClientProxy::connect() {
  co_return co_await pool_.start();
}

Outcome<tcp::endpoint> ClientProxy::listen() {
  auto acceptor = listen_on(io_, options_.listen);
  if (!acceptor) {
    return acceptor.error();
  }
  acceptor_ = std::move(*acceptor);
  auto loop = accept_loop();
  asio::co_spawn(io_, std::move(loop), asio::detached);
  return acceptor_->local_endpoint();
}

void ClientProxy::shutdown() {
  if (draining_) {
    return;
  }
  draining_ = true;
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  }
  drain_->start();
  for (const auto& [id, weak] : h2_sources_) {
    if (auto session = weak.lock()) {
      session->shutdown();
    }
  }
  pool_.shutdown_when_idle([this] { return limit_.open() > 0; });
}

http::RequestHandler ClientProxy::handler() {
  return [this](http::ServerExchangePtr exchange) { return forward(std::move(exchange)); };
}

asio::awaitable<void> ClientProxy::accept_loop() {
  for (;;) {
    // The peer's address comes with the accept (no getpeername per connection).
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor_->async_accept(peer, http::kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
      co_return;
    }
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(http::kUseTuple);
      continue;
    }
    auto slot = limit_.try_acquire();
    if (!slot) {
      spdlog::warn("connection limit {} reached; refusing a source connection", limit_.max());
      continue;  // the socket closes here
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto source = serve_source(std::move(socket), peer.address(), std::move(*slot));
    asio::co_spawn(io_, std::move(source), asio::detached);
  }
}

asio::awaitable<void> ClientProxy::serve_source(tcp::socket socket, asio::ip::address peer_address,
                                                [[maybe_unused]] ConnectionLimit::Slot slot) {
  http::PlainStream stream(std::move(socket));
  // Sniff the HTTP/2 preface; anything else is HTTP/1.x. Reads go straight into the HTTP/1.1
  // parser's buffer, as large as the client sent, so that a request arriving in one segment
  // costs one read (a read of just the preface's 24 bytes would need a second for the rest).
  boost::beast::flat_buffer buffer;
  const auto sniffed = [&buffer] {
    const auto data = buffer.data();
    return std::string_view(static_cast<const char*>(data.data()), data.size());
  };
  stream.expires_after(options_.h1.header_timeout);
  while (buffer.size() < kH2Preface.size() && kH2Preface.substr(0, buffer.size()) == sniffed()) {
    auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(4096), http::kUseTuple);
    buffer.commit(n);
    if (read_ec) {
      co_return;
    }
  }
  stream.expires_never();
  if (sniffed().substr(0, kH2Preface.size()) == kH2Preface) {
    auto session = http::H2Session<http::PlainStream>::make_server(std::move(stream), options_.h2,
                                                                   handler(), peer_address);
    if (session) {
      const auto view = sniffed();
      session->set_initial_bytes(Bytes(view.begin(), view.end()));
      const std::uint64_t id = next_h2_source_++;
      h2_sources_.emplace(id, session);
      if (draining_) {
        session->shutdown();  // its first streams (already read) are still served
      }
      co_await session->run();
      h2_sources_.erase(id);
    }
    co_return;
  }
  co_await http::serve_h1(stream, buffer, peer_address, handler(), options_.h1);
}

asio::awaitable<void> ClientProxy::forward(http::ServerExchangePtr exchange) {
  const RequestHead& source = exchange->request();
  std::optional<UpstreamChannel> channel = pool_.try_acquire();
  if (!channel) {
    auto waited = co_await pool_.acquire();
    if (!waited) {
      auto failed =
          http::make_text_response(502, "Request failed: " + waited.error().describe() + "\n");
      exchange->send_response(std::move(failed.head), std::move(failed.body));
      co_return;
    }
    channel = std::move(*waited);
  }
  const bool websocket_h1 = http::is_websocket_upgrade(source);
  RequestHead request = make_channel_request(source, channel->version, server_authority_);
  std::weak_ptr<http::ServerExchange> weak = exchange;
  http::InformationalHandler relay_interim = [weak](const ResponseHead& interim) {
    if (auto ex = weak.lock()) {
      ex->send_informational(interim);
    }
  };
  http::BodyPipePtr request_body = exchange->request_body();
  auto response = co_await channel->session->send(std::move(request), std::move(request_body),
                                                  std::move(relay_interim));
  if (!response) {
    spdlog::warn("{} {}: forwarding over the attested channel failed: {}", source.method,
                 source.target, response.error().describe());
    auto failed =
        http::make_text_response(502, "Request failed: " + response.error().describe() + "\n");
    exchange->send_response(std::move(failed.head), std::move(failed.body));
    co_return;
  }
  ResponseHead head = std::move(response->head);
  http::strip_connection_fields(head.headers);
  http::drop_invalid_fields(head.headers);
  if (websocket_h1) {
    const bool accepted = channel->version == ratls::HttpVersion::Http2
                              ? head.status >= 200 && head.status < 300
                              : head.status == 101;
    if (accepted) {
      // RFC 6455 §4.2.2: the accept value answers the source client's own key.
      head.status = 101;
      head.headers.erase("sec-websocket-accept");
      head.headers.add("upgrade", "websocket");
      head.headers.add("connection", "upgrade");
      head.headers.add(
          "sec-websocket-accept",
          http::websocket_accept(source.headers.get("sec-websocket-key").value_or("")));
    }
  }
  set_attestation_headers(head.headers, *channel->attestation_headers);
  exchange->send_response(std::move(head), std::move(response->body));
}

}  // namespace atls::proxy
