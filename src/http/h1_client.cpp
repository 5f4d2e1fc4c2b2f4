#include "http/h1_client.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "core/async_event.h"
#include "http/errors.h"
#include "http/h1_wire.h"
#include "http/semantics.h"
#include "http/stream_util.h"

namespace atls::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using ResponseParser = bhttp::response_parser<bhttp::buffer_body>;

bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

// The state of the request in flight, shared by the coroutines that serve it.
template <class Stream>
struct H1ClientSession<Stream>::Exchange {
  explicit Exchange(const asio::any_io_executor& executor) : decided_event(executor) {}
  // What the response and body coroutines need of the request (the head itself may be the
  // caller's, see send_borrowed()).
  std::string method;
  std::uint64_t request_content_length = 0;
  BodyPipePtr request_body;
  BodyPipePtr response_body;
  Framing request_framing = Framing::None;
  std::unique_ptr<ResponseParser> parser;
  std::size_t header_count = 0;
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
  beast::get_lowest_layer(stream_).socket().close(ignored);
}

template <class Stream>
void H1ClientSession<Stream>::close() {
  const bool was_closed = closed_;
  closed_ = true;
  beast::get_lowest_layer(stream_).close();
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
  auto exchange = std::make_shared<Exchange>(executor);
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

  auto [write_ec, written] = co_await asio::async_write(stream_, asio::buffer(head), kUseTuple);
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
  for (;;) {
    exchange->parser = std::make_unique<ResponseParser>();
    exchange->parser->header_limit(options_.max_header_bytes);
    exchange->parser->body_limit(boost::none);
    exchange->parser->skip(exchange->method == "HEAD");
    auto [read_ec, n] =
        co_await bhttp::async_read_header(stream_, buffer_, *exchange->parser, kUseTuple);
    if (read_ec) {
      exchange->failed = true;
      if (upgrade) {
        exchange->decide(false);
      }
      close();
      exchange->request_body->abandon();
      const auto code = closed_by_peer(read_ec)                     ? Errc::ConnectionClosed
                        : read_ec == bhttp::error::header_limit     ? Errc::HeaderTooLarge
                        : read_ec == asio::error::operation_aborted ? Errc::ConnectionClosed
                                                                    : Errc::MalformedResponse;
      co_return Failure{make_error_code(code), "reading the response head: " + read_ec.message()};
    }
    const auto& message = exchange->parser->get();
    const int status = static_cast<int>(message.result_int());
    if (status >= 100 && status < 200 && status != 101) {
      if (on_informational) {
        ResponseHead interim;
        interim.status = status;
        interim.headers = fields_from_beast(message.base());
        on_informational(interim);
      }
      continue;
    }
    break;
  }

  auto& message = exchange->parser->get();
  UpstreamResponse response;
  response.head.status = static_cast<int>(message.result_int());
  response.head.reason = std::string(message.reason());
  response.head.version = message.version() == 10 ? Version::Http10 : Version::Http11;
  response.head.headers = fields_from_beast(message.base());
  exchange->header_count = response.head.headers.size();
  if (const auto length = exchange->parser->content_length()) {
    response.head.content_length = *length;
  }
  exchange->keep_alive = exchange->parser->keep_alive();

  if (upgrade) {
    const bool tunnel = response.head.status == 101;
    exchange->decide(tunnel);
    if (tunnel) {
      response.head.has_body = true;
      response.body = std::make_shared<BodyPipe>(executor, options_.body_high_water);
      exchange->response_body = response.body;
      auto pump = pump_tunnel_in(exchange);
      asio::co_spawn(executor, std::move(pump), asio::detached);
      co_return response;
    }
  }
  const bool has_content = response_has_content(exchange->method, response.head.status);
  if (!has_content || exchange->parser->is_done()) {
    response.head.has_body = false;
    if (has_content) {
      response.body = std::make_shared<BodyPipe>(executor);
      response.body->finish();
    }
    exchange->response_done = true;
    part_done(exchange);
    co_return response;
  }
  response.head.has_body = true;
  response.body = std::make_shared<BodyPipe>(executor, options_.body_high_water);
  exchange->response_body = response.body;
  if (parse_buffered_body(*exchange)) {
    exchange->response_done = true;
    part_done(exchange);
    co_return response;
  }
  auto reader = read_response_body(exchange);
  asio::co_spawn(executor, std::move(reader), asio::detached);
  co_return response;
}

template <class Stream>
bool H1ClientSession<Stream>::parse_buffered_body(Exchange& exchange) {
  // A small Content-Length body that arrived with the head (the usual case for small
  // responses) is parsed from the buffer right away, without a reader coroutine.
  auto& parser = *exchange.parser;
  const auto length = parser.content_length();
  if (!length || *length > buffer_.size() || *length > ReadScratch::size()) {
    return false;
  }
  parser.get().body().data = scratch_.data();
  parser.get().body().size = ReadScratch::size();
  boost::system::error_code ec;
  buffer_.consume(parser.put(buffer_.data(), ec));
  if (ec == bhttp::error::need_buffer) {
    ec = {};
  }
  const std::size_t got = ReadScratch::size() - parser.get().body().size;
  if (got > 0) {
    exchange.response_body->write(scratch_.copy(got));
  }
  if (ec) {
    exchange.failed = true;
    exchange.response_body->fail(make_error_code(Errc::MalformedResponse));
    return true;
  }
  if (!parser.is_done()) {
    return false;  // the reader coroutine continues from here
  }
  exchange.response_body->finish(fields_from_beast(parser.get().base(), exchange.header_count));
  return true;
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
        beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_send,
                                                           ignored);
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
  auto& parser = *exchange->parser;
  auto& pipe = *exchange->response_body;
  while (!parser.is_done()) {
    if (!pipe.writable()) {
      co_await pipe.wait_writable();
      if (pipe.consumer_gone()) {
        exchange->failed = true;  // nobody wants the rest: the connection cannot be reused
        break;
      }
      continue;
    }
    parser.get().body().data = scratch_.data();
    parser.get().body().size = ReadScratch::size();
    auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kUseTuple);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    const std::size_t got = ReadScratch::size() - parser.get().body().size;
    if (got > 0) {
      pipe.write(scratch_.copy(got));
    }
    if (ec == bhttp::error::end_of_stream && parser.is_done()) {
      break;  // a close-delimited body ended
    }
    if (ec) {
      exchange->failed = true;
      pipe.fail(
          make_error_code(closed_by_peer(ec) ? Errc::BodyTruncated : Errc::MalformedResponse));
      break;
    }
  }
  if (parser.is_done()) {
    pipe.finish(fields_from_beast(parser.get().base(), exchange->header_count));
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

template class H1ClientSession<PlainStream>;
template class H1ClientSession<TlsStream>;

}  // namespace atls::http
