#include "http/h1_client.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "core/async_event.h"
#include "http/errors.h"
#include "http/h1_parser.h"
#include "http/h1_wire.h"
#include "http/semantics.h"
#include "http/stream_util.h"

namespace atls::http {
namespace {

namespace asio = boost::asio;

bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

// The state of the request in flight, shared by the coroutines that serve it.
template <class Stream>
struct H1ClientSession<Stream>::Exchange {
  // What the response and body coroutines need of the request (the head itself may be the
  // caller's, see send_borrowed()).
  std::string method;
  std::uint64_t request_content_length = 0;
  BodyPipePtr request_body;
  BodyPipePtr response_body;
  Framing request_framing = Framing::None;
  std::optional<h1::BodyDecoder> decoder;  // of the response body
  bool keep_alive = true;
  bool request_done = false;
  bool response_done = false;
  bool failed = false;
  // Upgrade requests: whether the response switched protocols (the request writer waits).
  bool decided = false;
  bool tunnel = false;
  AsyncEvent decided_event;

  void decide(bool as_tunnel) {
    decided = true;
    tunnel = as_tunnel;
    decided_event.notify();
  }
};

template <class Stream>
H1ClientSession<Stream>::H1ClientSession(Stream stream, H1ClientOptions options)
    : stream_(std::move(stream)),
      options_(std::move(options)),
      idle_since_(std::chrono::steady_clock::now()) {}

template <class Stream>
H1ClientSession<Stream>::~H1ClientSession() {
  boost::system::error_code ignored;
  tcp_socket(stream_).close(ignored);
}

template <class Stream>
void H1ClientSession<Stream>::close() {
  const bool was_closed = closed_;
  closed_ = true;
  abort_stream(stream_);
  if (!was_closed && on_state_) {
    on_state_();
  }
}

template <class Stream>
void H1ClientSession<Stream>::part_done(const std::shared_ptr<Exchange>& exchange) {
  if (exchange->failed) {
    close();
    return;
  }
  if (exchange->request_done && exchange->response_done) {
    if (exchange->keep_alive && !exchange->tunnel) {
      busy_ = false;
      idle_since_ = std::chrono::steady_clock::now();
      if (on_state_) {
        on_state_();
      }
    } else {
      close();
    }
  }
}

template <class Stream>
asio::awaitable<Outcome<UpstreamResponse>> H1ClientSession<Stream>::send(
    RequestHead request, BodyPipePtr request_body, InformationalHandler on_informational) {
  co_return co_await send_borrowed(&request, std::move(request_body), std::move(on_informational));
}

template <class Stream>
asio::awaitable<Outcome<UpstreamResponse>> H1ClientSession<Stream>::send_borrowed(
    const RequestHead* borrowed, BodyPipePtr request_body, InformationalHandler on_informational) {
  const RequestHead& request = *borrowed;
  auto self = this->shared_from_this();
  auto executor = co_await asio::this_coro::executor;
  busy_ = true;
  ++requests_;
  auto exchange = std::make_shared<Exchange>();
  const bool upgrade = is_websocket_upgrade(request);
  if (upgrade) {
    exchange->request_framing = Framing::Tunnel;
  } else if (request.content_length) {
    exchange->request_framing = Framing::ContentLength;
  } else if (request.has_body) {
    exchange->request_framing = Framing::Chunked;
  }
  std::string host = request.authority;
  if (host.empty()) {
    host = std::string(request.headers.get("host").value_or(options_.default_host));
  }
  const std::string head = serialize_request_head(
      request, host,
      exchange->request_framing == Framing::Tunnel ? Framing::None : exchange->request_framing);
  exchange->method = request.method;
  exchange->request_content_length = request.content_length.value_or(0);
  exchange->request_body = std::move(request_body);

  boost::system::error_code write_ec;
  if (const std::string_view rest = send_what_fits(stream_, head, write_ec);
      !write_ec && !rest.empty()) {
    auto [rest_ec, written] = co_await asio::async_write(stream_, asio::buffer(rest), kUseTuple);
    write_ec = rest_ec;
  }
  if (write_ec) {
    close();
    exchange->request_body->abandon();
    co_return Failure{make_error_code(Errc::ConnectionClosed),
                      "sending the request head: " + write_ec.message()};
  }
  if (exchange->request_framing == Framing::None) {
    exchange->request_done = true;
  } else {
    auto writer = write_request_body(exchange);
    asio::co_spawn(executor, std::move(writer), asio::detached);
  }

  // Interim responses, then the final head (RFC 9112 §4, RFC 9110 §15.2).
  h1::ParsedResponse parsed;
  for (;;) {
    const auto buffered = buffer_.data();
    const auto result = h1::parse_response_head(
        std::string_view(static_cast<const char*>(buffered.data()), buffered.size()),
        options_.max_header_bytes, parsed);
    if (result.status == h1::ParseStatus::Complete) {
      buffer_.consume(result.consumed);
      const int status = parsed.head.status;
      if (status >= 100 && status < 200 && status != 101) {
        if (on_informational) {
          on_informational(parsed.head);
        }
        continue;
      }
      break;
    }
    if (result.status != h1::ParseStatus::Incomplete) {
      abort_exchange(*exchange, upgrade);
      const bool too_large = result.status == h1::ParseStatus::TooLarge;
      co_return Failure{make_error_code(too_large ? Errc::HeaderTooLarge : Errc::MalformedResponse),
                        "reading the response head: " +
                            std::string(too_large ? "larger than the limit" : result.error)};
    }
    auto [read_ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kUseTuple);
    buffer_.commit(n);
    if (read_ec) {
      // Nothing of a response yet on a closed connection is the keep-alive race the pool may
      // retry (ConnectionClosed); a head cut short is a broken response.
      const bool nothing = buffer_.size() == 0;
      abort_exchange(*exchange, upgrade);
      const auto code =
          (closed_by_peer(read_ec) && nothing) || read_ec == asio::error::operation_aborted
              ? Errc::ConnectionClosed
              : Errc::MalformedResponse;
      co_return Failure{make_error_code(code), "reading the response head: " + read_ec.message()};
    }
  }

  UpstreamResponse response;
  response.head = std::move(parsed.head);
  const int status = response.head.status;
  const Framing framing = h1::response_framing(exchange->method, parsed);
  exchange->keep_alive = parsed.keep_alive && framing != Framing::CloseDelimited;

  if (upgrade) {
    const bool tunnel = status == 101;
    exchange->decide(tunnel);
    if (tunnel) {
      response.head.has_body = true;
      response.body = std::make_shared<BodyPipe>(options_.body_high_water);
      exchange->response_body = response.body;
      auto pump = pump_tunnel_in(exchange);
      asio::co_spawn(executor, std::move(pump), asio::detached);
      co_return response;
    }
  }
  if (framing == Framing::Tunnel) {
    // RFC 9110 §15.2.2: a server switches protocols only when the request asked to.
    abort_exchange(*exchange, false);
    co_return Failure{make_error_code(Errc::MalformedResponse),
                      "the target switched protocols without an upgrade request"};
  }
  if (!response_has_content(exchange->method, status)) {
    response.head.has_body = false;
    exchange->response_done = true;
    part_done(exchange);
    co_return response;
  }
  exchange->decoder.emplace(framing, response.head.content_length.value_or(0),
                            options_.max_header_bytes);
  if (exchange->decoder->done()) {
    // An empty body (Content-Length: 0).
    response.head.has_body = false;
    response.body = std::make_shared<BodyPipe>();
    response.body->finish();
    exchange->response_done = true;
    part_done(exchange);
    co_return response;
  }
  response.head.has_body = true;
  response.body = std::make_shared<BodyPipe>(options_.body_high_water);
  exchange->response_body = response.body;
  // A small body that arrived with the head (the usual case for small responses) is taken from
  // the buffer right away, without a reader coroutine.
  if (decode_buffered(*exchange)) {
    exchange->response_done = true;
    part_done(exchange);
    co_return response;
  }
  auto reader = read_response_body(exchange);
  asio::co_spawn(executor, std::move(reader), asio::detached);
  co_return response;
}

template <class Stream>
void H1ClientSession<Stream>::abort_exchange(Exchange& exchange, bool upgrade) {
  exchange.failed = true;
  if (upgrade) {
    exchange.decide(false);
  }
  close();
  exchange.request_body->abandon();
}

template <class Stream>
bool H1ClientSession<Stream>::decode_buffered(Exchange& exchange) {
  auto& decoder = *exchange.decoder;
  auto& pipe = *exchange.response_body;
  while (buffer_.size() > 0 && !decoder.done() && !decoder.failed()) {
    const auto buffered = buffer_.data();
    const auto step =
        decoder.next(ByteView(static_cast<const std::uint8_t*>(buffered.data()), buffered.size()));
    if (!step.content.empty()) {
      pipe.write(step.content);  // copies: the view points into buffer_
    }
    buffer_.consume(step.consumed);
    if (step.consumed == 0) {
      break;
    }
  }
  if (decoder.failed()) {
    spdlog::debug("target response body: {}", decoder.error());
    exchange.failed = true;
    pipe.fail(make_error_code(Errc::MalformedResponse));
    return true;
  }
  if (decoder.done()) {
    pipe.finish(decoder.take_trailers());
    return true;
  }
  return false;
}

template <class Stream>
asio::awaitable<void> H1ClientSession<Stream>::write_request_body(
    std::shared_ptr<Exchange> exchange) {
  auto self = this->shared_from_this();
  auto& body = *exchange->request_body;
  if (exchange->request_framing == Framing::Tunnel) {
    while (!exchange->decided) {
      co_await exchange->decided_event.wait();
    }
    if (!exchange->tunnel) {
      body.abandon();
      exchange->request_done = true;
      part_done(exchange);
      co_return;
    }
  }
  std::uint64_t written = 0;
  for (;;) {
    auto chunk = co_await body.read();
    if (chunk.error) {
      exchange->failed = true;  // the client's upload broke: the message cannot be completed
      break;
    }
    boost::system::error_code ec;
    if (chunk.end) {
      if (exchange->request_framing == Framing::Chunked) {
        Fields trailers;
        for (const auto& field : body.trailers()) {
          if (allowed_in_trailers(field.name)) {
            trailers.add(field.name, field.value);
          }
        }
        const std::string last = last_chunk(trailers);
        auto [last_ec, n] = co_await asio::async_write(stream_, asio::buffer(last), kUseTuple);
        ec = last_ec;
      } else if (exchange->request_framing == Framing::ContentLength &&
                 written != exchange->request_content_length) {
        exchange->failed = true;
      } else if (exchange->request_framing == Framing::Tunnel) {
        // The client closed its side of the tunnel: end ours (TCP half-close).
        boost::system::error_code ignored;
        tcp_socket(stream_).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      }
      if (ec) {
        exchange->failed = true;
      }
      break;
    }
    written += chunk.data.size();
    if (exchange->request_framing == Framing::Chunked) {
      const std::string header = chunk_header(chunk.data.size());
      const std::array<asio::const_buffer, 3> buffers{
          asio::buffer(header), asio::buffer(chunk.data), asio::buffer("\r\n", 2)};
      auto [chunk_ec, n] = co_await asio::async_write(stream_, buffers, kUseTuple);
      ec = chunk_ec;
    } else {
      auto [data_ec, n] = co_await asio::async_write(stream_, asio::buffer(chunk.data), kUseTuple);
      ec = data_ec;
    }
    if (ec) {
      exchange->failed = true;
      body.abandon();
      break;
    }
  }
  exchange->request_done = true;
  part_done(exchange);
}

template <class Stream>
asio::awaitable<void> H1ClientSession<Stream>::read_response_body(
    std::shared_ptr<Exchange> exchange) {
  auto self = this->shared_from_this();
  auto& decoder = *exchange->decoder;
  auto& pipe = *exchange->response_body;
  for (;;) {
    if (!pipe.writable()) {
      co_await pipe.wait_writable();
      if (pipe.consumer_gone()) {
        exchange->failed = true;  // nobody wants the rest: the connection cannot be reused
        break;
      }
      continue;
    }
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kUseTuple);
    buffer_.commit(n);
    if (decode_buffered(*exchange)) {
      break;
    }
    if (ec) {
      if (closed_by_peer(ec) && decoder.end_of_input()) {
        pipe.finish();  // a close-delimited body ended (RFC 9112 §6.3 rule 8)
        exchange->keep_alive = false;
      } else {
        exchange->failed = true;
        pipe.fail(make_error_code(closed_by_peer(ec) || ec == asio::error::operation_aborted
                                      ? Errc::BodyTruncated
                                      : Errc::MalformedResponse));
      }
      break;
    }
  }
  exchange->response_done = true;
  part_done(exchange);
}

template <class Stream>
asio::awaitable<void> H1ClientSession<Stream>::pump_tunnel_in(std::shared_ptr<Exchange> exchange) {
  auto self = this->shared_from_this();
  auto& pipe = *exchange->response_body;
  if (buffer_.size() > 0) {
    const auto data = buffer_.data();
    pipe.write(ByteView(static_cast<const std::uint8_t*>(data.data()), data.size()));
    buffer_.consume(buffer_.size());
  }
  for (;;) {
    if (!pipe.writable()) {
      co_await pipe.wait_writable();
      if (pipe.consumer_gone()) {
        break;
      }
      continue;
    }
    auto [ec, n] = co_await stream_.async_read_some(
        asio::buffer(scratch_.data(), ReadScratch::size()), kUseTuple);
    if (n > 0) {
      pipe.write(scratch_.copy(n));
    }
    if (ec) {
      pipe.finish();  // the target closed the tunnel
      break;
    }
  }
  exchange->response_done = true;
  part_done(exchange);
}

template class H1ClientSession<TcpSocket>;
template class H1ClientSession<TlsStream>;

}  // namespace atls::http
