#include "http/h1_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <vector>

#include "core/async_event.h"
#include "http/errors.h"
#include "http/h1_parser.h"
#include "http/h1_wire.h"
#include "http/semantics.h"
#include "http/stream_util.h"

namespace atls::http {

void DrainSignal::start() {
  std::map<std::uint64_t, std::function<void()>> idle;
  {
    std::lock_guard lock(mutex_);
    draining_.store(true, std::memory_order_release);
    idle.swap(idle_);
  }
  for (auto& [id, cancel] : idle) {
    cancel();
  }
}

std::uint64_t DrainSignal::add_idle(std::function<void()> cancel) {
  std::lock_guard lock(mutex_);
  if (draining_.load(std::memory_order_relaxed)) {
    cancel();
    return 0;
  }
  const std::uint64_t id = ++next_id_;
  idle_.emplace(id, std::move(cancel));
  return id;
}

void DrainSignal::remove_idle(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  idle_.erase(id);
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// What the handler has said so far; shared by the exchange (handler side) and the connection
// coroutine (writer side), both on the connection's executor.
struct ResponseSlot {
  std::vector<ResponseHead> informational;
  std::optional<ResponseHead> final_head;
  BodyPipePtr final_body;
  AsyncEvent event;
};

class H1Exchange final : public ServerExchange {
 public:
  H1Exchange(RequestHead request, BodyPipePtr body, asio::ip::address peer,
             std::shared_ptr<ResponseSlot> slot)
      : slot_(std::move(slot)) {
    request_ = std::move(request);
    request_body_ = std::move(body);
    peer_address_ = peer;
  }

  void send_informational(const ResponseHead& head) override {
    if (!slot_->final_head) {
      slot_->informational.push_back(head);
      slot_->event.notify();
    }
  }

  void send_response(ResponseHead head, BodyPipePtr body) override {
    if (slot_->final_head) {
      return;
    }
    slot_->final_head = std::move(head);
    slot_->final_body = std::move(body);
    slot_->event.notify();
  }

  bool responded() const noexcept override { return slot_->final_head.has_value(); }

 private:
  std::shared_ptr<ResponseSlot> slot_;
};

// Coordination between the connection coroutine and the request-body reader it spawns.
struct PumpState {
  bool done = false;
  AsyncEvent done_event;
  // For upgrade/CONNECT requests: whether the response turned the connection into a tunnel.
  bool decided = false;
  bool tunnel = false;
  AsyncEvent decided_event;

  asio::awaitable<void> wait_done() {
    while (!done) {
      co_await done_event.wait();
    }
  }
  void decide(bool as_tunnel) {
    decided = true;
    tunnel = as_tunnel;
    decided_event.notify();
  }
};

bool is_connection_closed(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::ssl::error::stream_truncated || ec == beast::error::timeout ||
         ec == asio::error::broken_pipe;
}

template <class Stream>
asio::awaitable<void> write_all(Stream& stream, std::string_view data,
                                boost::system::error_code& ec) {
  const std::string_view rest = send_what_fits(stream, data, ec);
  if (ec || rest.empty()) {
    co_return;
  }
  auto [write_ec, n] = co_await asio::async_write(stream, asio::buffer(rest), kUseTuple);
  ec = write_ec;
}

// Feeds buffered bytes to the request body's decoder while the pipe takes more; returns whether
// the body ended (normally or not).
bool decode_request_body(beast::flat_buffer& buffer, h1::BodyDecoder& decoder, BodyPipe& pipe) {
  while (buffer.size() > 0 && !decoder.done() && !decoder.failed() && pipe.writable()) {
    const auto buffered = buffer.data();
    const auto step =
        decoder.next(ByteView(static_cast<const std::uint8_t*>(buffered.data()), buffered.size()));
    if (!step.content.empty()) {
      pipe.write(step.content);  // copies: the view points into the buffer
    }
    buffer.consume(step.consumed);
    if (step.consumed == 0) {
      break;
    }
  }
  return decoder.done() || decoder.failed();
}

// Reads the request body into the pipe (and, after a 101/CONNECT, the raw tunnel bytes).
template <class Stream>
asio::awaitable<void> pump_request(Stream& stream, beast::flat_buffer& buffer,
                                   h1::BodyDecoder decoder, bool tunnel_possible, BodyPipePtr pipe,
                                   std::shared_ptr<PumpState> state) {
  ReadScratch scratch;  // tunnel reads after a 101/CONNECT; allocated only if used
  while (!decode_request_body(buffer, decoder, *pipe)) {
    if (!pipe->writable()) {
      co_await pipe->wait_writable();
      if (pipe->consumer_gone() || pipe->closed()) {
        break;
      }
      continue;
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kUseTuple);
    buffer.commit(n);
    if (ec && !decode_request_body(buffer, decoder, *pipe)) {
      pipe->fail(is_connection_closed(ec) ? make_error_code(Errc::BodyTruncated)
                                          : make_error_code(Errc::MalformedRequest));
      break;
    }
  }
  if (decoder.failed()) {
    spdlog::debug("request body: {}", decoder.error());
    pipe->fail(make_error_code(Errc::MalformedRequest));
  }
  if (decoder.done() && !pipe->closed()) {
    if (!tunnel_possible) {
      pipe->finish(decoder.take_trailers());
    } else {
      // The request pipe stays open: after a 101 it carries the client's tunnel bytes.
      while (!state->decided) {
        co_await state->decided_event.wait();
      }
      if (!state->tunnel) {
        pipe->finish();
      } else {
        // Bytes the client sent right after the upgrade request are already buffered.
        if (buffer.size() > 0) {
          const auto data = buffer.data();
          pipe->write(ByteView(static_cast<const std::uint8_t*>(data.data()), data.size()));
          buffer.consume(buffer.size());
        }
        for (;;) {
          if (!pipe->writable()) {
            co_await pipe->wait_writable();
            if (pipe->consumer_gone() || pipe->closed()) {
              break;
            }
            continue;
          }
          auto [ec, n] = co_await stream.async_read_some(
              asio::buffer(scratch.data(), ReadScratch::size()), kUseTuple);
          if (n > 0) {
            pipe->write(scratch.copy(n));
          }
          if (ec) {
            pipe->finish();  // the client closed its side of the tunnel
            break;
          }
        }
      }
    }
  }
  state->done = true;
  state->done_event.notify();
}

// The last chunk of a chunked body, with the body's trailer fields that may be forwarded.
std::string last_chunk_of(const BodyPipe& body) {
  Fields trailers;
  for (const auto& field : body.trailers()) {
    if (allowed_in_trailers(field.name)) {
      trailers.add(field.name, field.value);
    }
  }
  return last_chunk(trailers);
}

template <class Stream>
asio::awaitable<bool> write_body(Stream& stream, Framing framing, const BodyPipePtr& body,
                                 std::optional<std::uint64_t> content_length) {
  std::uint64_t written = 0;
  for (;;) {
    auto chunk = co_await body->read();
    if (chunk.error) {
      co_return false;  // the upstream body broke: the only signal HTTP/1.1 has is closing
    }
    if (chunk.end) {
      if (framing == Framing::Chunked) {
        boost::system::error_code ec;
        co_await write_all(stream, last_chunk_of(*body), ec);
        co_return !ec;
      }
      co_return framing != Framing::ContentLength || written == content_length.value_or(0);
    }
    written += chunk.data.size();
    if (framing == Framing::ContentLength && written > content_length.value_or(0)) {
      co_return false;
    }
    boost::system::error_code ec;
    if (framing == Framing::Chunked) {
      const std::string header = chunk_header(chunk.data.size());
      const std::array<asio::const_buffer, 3> buffers{
          asio::buffer(header), asio::buffer(chunk.data), asio::buffer("\r\n", 2)};
      auto [write_ec, n] = co_await asio::async_write(stream, buffers, kUseTuple);
      ec = write_ec;
    } else {
      auto [write_ec, n] = co_await asio::async_write(stream, asio::buffer(chunk.data), kUseTuple);
      ec = write_ec;
    }
    if (ec) {
      body->abandon();
      co_return false;
    }
  }
}

// Bodies up to this size are sent with the response head when they are complete already.
constexpr std::size_t kCoalescedBodyLimit = std::size_t{16} * 1024;

// Appends the whole of `body` to `out`, framed, when it has ended normally with at most
// kCoalescedBodyLimit bytes buffered and matches the framing; returns whether it did (otherwise
// nothing is taken and write_body sends it).
bool append_complete_body(std::string& out, Framing framing, const BodyPipePtr& body,
                          std::optional<std::uint64_t> content_length) {
  if (!body || !body->closed() || body->failed() || body->buffered() > kCoalescedBodyLimit) {
    return false;
  }
  const std::size_t size = body->buffered();
  if (framing == Framing::ContentLength) {
    if (content_length.value_or(0) != size) {
      return false;  // write_body reports the mismatch by closing the connection
    }
    const std::size_t offset = out.size();
    out.resize(offset + size);
    body->read_into(std::span(reinterpret_cast<std::uint8_t*>(out.data() + offset), size));
    return true;
  }
  if (framing == Framing::Chunked) {
    if (size > 0) {
      out += chunk_header(size);
      const std::size_t offset = out.size();
      out.resize(offset + size);
      body->read_into(std::span(reinterpret_cast<std::uint8_t*>(out.data() + offset), size));
      out += "\r\n";
    }
    out += last_chunk_of(*body);
    return true;
  }
  return false;
}

// A connection's registration with its listener's drain signal, undone when the connection's
// coroutine ends (however it ends).
struct IdleRegistration {
  std::shared_ptr<DrainSignal> drain;
  std::uint64_t id = 0;
  std::shared_ptr<bool> waiting;

  IdleRegistration() = default;
  /// Whether the connection waits for its next request (only tracked under a drain signal).
  void set_waiting(bool value) const noexcept {
    if (waiting) {
      *waiting = value;
    }
  }
  IdleRegistration(const IdleRegistration&) = delete;
  IdleRegistration& operator=(const IdleRegistration&) = delete;
  ~IdleRegistration() {
    if (waiting) {
      *waiting = false;
    }
    if (drain && id != 0) {
      drain->remove_idle(id);
    }
  }
};

// Half-closes, then reads and discards what the client still sends for a short while before
// closing: closing a socket with unread input makes the kernel send a reset, which can destroy
// the response before the client has read it (RFC 9112 §9.6 "tear-down").
template <class Stream>
asio::awaitable<void> lingering_close(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (kIsTls<Stream>) {
    co_await close_stream(stream);
  } else {
    boost::system::error_code ignored;
    lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    lowest.expires_after(std::chrono::seconds(2));
    std::array<std::uint8_t, 4096> sink{};
    for (;;) {
      auto [ec, n] = co_await lowest.async_read_some(asio::buffer(sink), kUseTuple);
      if (ec) {
        break;
      }
    }
    lowest.close();
  }
}

}  // namespace

ResponseHead make_text_head(int status, std::size_t length) {
  ResponseHead head;
  head.status = status;
  head.headers.add("content-type", "text/plain; charset=utf-8");
  head.content_length = length;
  return head;
}

UpstreamResponse make_text_response(int status, std::string_view text) {
  UpstreamResponse response;
  response.head = make_text_head(status, text.size());
  response.body = std::make_shared<BodyPipe>();
  response.body->write(as_bytes(text));
  response.body->finish();
  return response;
}

void send_not_found(ServerExchange& exchange) {
  auto missing = make_text_response(404, "Not Found\n");
  exchange.send_response(std::move(missing.head), std::move(missing.body));
}

void send_method_not_allowed(ServerExchange& exchange, std::string_view allow) {
  auto refused = make_text_response(405, "Method Not Allowed\n");
  refused.head.headers.add("allow", allow);
  exchange.send_response(std::move(refused.head), std::move(refused.body));
}

asio::awaitable<void> run_request_handler(RequestHandler handler, ServerExchangePtr exchange) {
  // The handler is project code that reports failures through responses; this boundary only
  // keeps an unexpected exception from taking the process down.
  try {
    co_await handler(exchange);
  } catch (const std::exception& e) {
    spdlog::error("request handler failed: {}", e.what());
  }
  if (!exchange->responded()) {
    auto response = make_text_response(502, "Request failed: no response\n");
    exchange->send_response(std::move(response.head), std::move(response.body));
  }
}

template <class Stream>
asio::awaitable<void> serve_h1(Stream& stream, beast::flat_buffer& buffer, asio::ip::address peer,
                               RequestHandler handler, H1ServerOptions options) {
  auto executor = co_await asio::this_coro::executor;
  auto& lowest = beast::get_lowest_layer(stream);
  // While idle, a drain may cancel the wait for the next request. The canceller is registered
  // once per connection (not per request: that took the drain signal's lock and allocated for
  // every request); it runs on this connection's executor and checks `waiting` there, so it
  // never touches a connection that has finished.
  IdleRegistration idle;
  if (options.drain) {
    idle.waiting = std::make_shared<bool>(false);
    idle.drain = options.drain;
    idle.id = options.drain->add_idle([executor, waiting = idle.waiting, &lowest] {
      asio::post(executor, [waiting, &lowest] {
        if (*waiting) {
          lowest.cancel();
        }
      });
    });
  }
  for (bool first = true;; first = false) {
    if (options.drain && options.drain->draining() && buffer.size() == 0) {
      co_await close_stream(stream);
      co_return;
    }
    lowest.expires_after(first ? options.header_timeout : options.idle_timeout);
    h1::ParsedRequest parsed;
    h1::HeadParse result;
    boost::system::error_code read_ec;
    for (;;) {
      const auto buffered = buffer.data();
      result = h1::parse_request_head(
          std::string_view(static_cast<const char*>(buffered.data()), buffered.size()),
          options.max_header_bytes, parsed);
      if (result.status != h1::ParseStatus::Incomplete) {
        break;
      }
      // Idle (a drain may close it) only until the next request's first byte: a request
      // whose head is still arriving is in progress and gets its answer (RFC 9112 §9.6).
      idle.set_waiting(buffer.size() == 0);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kUseTuple);
      buffer.commit(n);
      if (ec) {
        read_ec = ec;
        break;
      }
    }
    idle.set_waiting(false);
    lowest.expires_never();
    const bool got_some = buffer.size() > 0;
    if (read_ec == asio::error::operation_aborted && options.drain && options.drain->draining() &&
        !got_some) {
      co_await close_stream(stream);  // idle when the drain started
      co_return;
    }
    if (read_ec || result.status != h1::ParseStatus::Complete) {
      if (!read_ec || (!is_connection_closed(read_ec) && got_some)) {
        // A malformed or oversized head: answer once, then close (RFC 9112 §2.2).
        if (result.status == h1::ParseStatus::Invalid) {
          spdlog::debug("HTTP/1.1 request from {} refused: {}", peer.to_string(), result.error);
        }
        // The body names the reason (static parser text, never request bytes), so that the
        // client's user sees what to fix rather than a bare status.
        const bool too_large = result.status == h1::ParseStatus::TooLarge;
        std::string body;
        if (too_large) {
          body = "Request Header Fields Too Large\n";
        } else {
          body = "Bad Request: ";
          body.append(result.error.empty() ? "malformed request" : result.error).append("\n");
        }
        const ResponseHead head = make_text_head(too_large ? 431 : 400, body.size());
        std::string wire = serialize_response_head(head, Framing::ContentLength, true);
        wire.append(body);
        boost::system::error_code ignored;
        co_await write_all(stream, wire, ignored);
        // The rest of what the client sent (a body, the rest of an oversized head) is unread:
        // without the lingering close the kernel's reset could destroy this answer.
        co_await lingering_close(stream);
        co_return;
      }
      co_await close_stream(stream);
      co_return;
    }
    buffer.consume(result.consumed);

    RequestHead head = std::move(parsed.head);
    const Framing request_body_framing = h1::request_framing(parsed);
    const std::uint64_t head_content_length = head.content_length.value_or(0);
    head.has_body = request_body_framing != Framing::None;
    const bool keep_alive = parsed.keep_alive;
    const bool tunnel_possible = is_websocket_upgrade(head) || head.method == "CONNECT";
    const std::string method = head.method;
    const Version version = head.version;

    auto request_pipe = std::make_shared<BodyPipe>(options.body_high_water);
    auto slot = std::make_shared<ResponseSlot>();
    auto state = std::make_shared<PumpState>();
    auto exchange = std::make_shared<H1Exchange>(std::move(head), request_pipe, peer, slot);
    if (request_body_framing == Framing::None && !tunnel_possible) {
      request_pipe->finish();
      state->done = true;
    } else {
      h1::BodyDecoder decoder(request_body_framing, head_content_length, options.max_header_bytes);
      auto pump =
          pump_request(stream, buffer, std::move(decoder), tunnel_possible, request_pipe, state);
      asio::co_spawn(executor, std::move(pump), asio::detached);
    }
    auto handler_run = run_request_handler(handler, exchange);
    asio::co_spawn(executor, std::move(handler_run), asio::detached);

    // Interim responses, then the final one (RFC 9110 §15.2). HTTP/1.0 clients get no 1xx.
    boost::system::error_code write_ec;
    std::size_t informational_sent = 0;
    while (!slot->final_head && !write_ec) {
      co_await slot->event.wait();
      for (; informational_sent < slot->informational.size() && !write_ec; ++informational_sent) {
        if (version != Version::Http10) {
          co_await write_all(stream,
                             serialize_response_head(slot->informational[informational_sent],
                                                     Framing::None, false),
                             write_ec);
        }
      }
    }
    ResponseHead response = slot->final_head.value_or(ResponseHead{});
    BodyPipePtr body = slot->final_body;

    const bool tunnel = !write_ec && tunnel_possible &&
                        ((response.status == 101 && method != "CONNECT") ||
                         (method == "CONNECT" && response.status >= 200 && response.status < 300));
    Framing framing = Framing::None;
    if (tunnel) {
      framing = Framing::Tunnel;
    } else if (body && response_has_content(method, response.status)) {
      framing = response.content_length      ? Framing::ContentLength
                : version == Version::Http11 ? Framing::Chunked
                                             : Framing::CloseDelimited;
    } else if (method == "HEAD" && response.content_length) {
      framing = Framing::ContentLength;  // the length of the representation, no content
    }
    bool close = !keep_alive || framing == Framing::CloseDelimited ||
                 (options.drain && options.drain->draining());
    bool body_sent = false;
    if (!write_ec) {
      std::string head_bytes = serialize_response_head(response, framing, close && !tunnel);
      // A small body that is already complete (the usual case for a proxied response: its
      // HEADERS and DATA arrived together) goes out with the head in one write, one syscall
      // and one TLS record instead of two.
      if (!tunnel && method != "HEAD") {
        body_sent = append_complete_body(head_bytes, framing, body, response.content_length);
      }
      co_await write_all(stream, head_bytes, write_ec);
    }
    if (tunnel_possible) {
      state->decide(tunnel);
    }

    bool body_ok = !write_ec;
    if (tunnel) {
      // Tunnel bytes towards the client until the upstream side ends; then the connection is
      // done (WebSocket and CONNECT tunnels end with the TCP connection).
      while (body_ok) {
        auto chunk = co_await body->read();
        if (chunk.end || chunk.error) {
          break;
        }
        boost::system::error_code ec;
        auto [tunnel_ec, n] =
            co_await asio::async_write(stream, asio::buffer(chunk.data), kUseTuple);
        ec = tunnel_ec;
        body_ok = !ec;
      }
      if (body) {
        body->abandon();
      }
      request_pipe->abandon();
      abort_stream(stream);
      co_await state->wait_done();
      co_return;
    }
    if (body_sent) {
      // Written with the head.
    } else if (body_ok && framing != Framing::None && !(method == "HEAD")) {
      body_ok = co_await write_body(stream, framing, body, response.content_length);
    } else if (body) {
      body->abandon();
    }
    if (!body_ok || !request_pipe->at_end()) {
      // A broken body, or a request body the handler did not consume: the connection cannot
      // be reused (the peer would not see where one message ends).
      close = true;
      request_pipe->abandon();
    }
    if (close) {
      // Stop the request reader, then close gracefully after a complete response so that the
      // client can read all of it (RFC 9112 §9.6), or abort after a broken one.
      beast::get_lowest_layer(stream).socket().cancel();
      co_await state->wait_done();
      if (body_ok && !kIsTls<Stream> && !keep_alive && buffer.size() == 0 &&
          request_pipe->at_end()) {
        // The client itself said "close" (or spoke HTTP/1.0), so it sends nothing more (RFC
        // 9112 §9.6), and nothing of its is unread: closing now sends a FIN, not a reset, and
        // the lingering read below would only wait for the client's own close.
        beast::get_lowest_layer(stream).close();
      } else if (body_ok) {
        co_await lingering_close(stream);
      } else {
        abort_stream(stream);
      }
      co_return;
    }
    co_await state->wait_done();
  }
}

template asio::awaitable<void> serve_h1<PlainStream>(PlainStream&, beast::flat_buffer&,
                                                     asio::ip::address, RequestHandler,
                                                     H1ServerOptions);
template asio::awaitable<void> serve_h1<TlsStream>(TlsStream&, beast::flat_buffer&,
                                                   asio::ip::address, RequestHandler,
                                                   H1ServerOptions);

}  // namespace atls::http
