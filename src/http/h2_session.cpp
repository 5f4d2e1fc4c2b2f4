#include "http/h2_session.h"

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>

#include "http/errors.h"
#include "http/h1_server.h"
#include "http/semantics.h"
#include "http/stream_util.h"

namespace atls::http {
namespace {

namespace asio = boost::asio;

// Output is written in batches of at most this size, so that one busy stream cannot make a
// single write (and the memory behind it) arbitrarily large.
constexpr std::size_t kMaxOutputBatch = std::size_t{256} * 1024;
constexpr std::size_t kReadBufferSize = std::size_t{32} * 1024;
// Header fields reserved per message up front (most requests and responses carry fewer).
constexpr std::size_t kExpectedFields = 12;

std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Fields HTTP/2 forbids (RFC 9113 §8.2.2); the proxy strips them before, this is the last guard.
bool is_connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

// The header list of one submitted frame. It points at the caller's strings instead of copying
// them: nghttp2_submit_{request,response,headers,trailer} copy every name and value (no
// NGHTTP2_NV_FLAG_NO_COPY_* flag is set), so they need to live only until the submit call
// returns. Numbers (:status, content-length) are formatted into the list's own slots.
class NvList {
 public:
  explicit NvList(std::size_t expected) { nva_.reserve(expected); }
  NvList(const NvList&) = delete;
  NvList& operator=(const NvList&) = delete;

  void add(std::string_view name, std::string_view value) {
    nva_.push_back(
        nghttp2_nv{bytes(name), bytes(value), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  /// Returns false when the list has no free number slot (a programming error upstream).
  bool add_number(std::string_view name, std::uint64_t value) {
    if (numbers_used_ == numbers_.size()) {
      return false;
    }
    auto& slot = numbers_[numbers_used_++];
    const auto [end, ec] = std::to_chars(slot.data(), slot.data() + slot.size(), value);
    add(name, std::string_view(slot.data(), static_cast<std::size_t>(end - slot.data())));
    return true;
  }
  nghttp2_nv* data() noexcept { return nva_.data(); }
  std::size_t size() const noexcept { return nva_.size(); }
  bool empty() const noexcept { return nva_.empty(); }

 private:
  static std::uint8_t* bytes(std::string_view text) {
    // nghttp2's nv type is not const-qualified; it only reads through these pointers.
    return reinterpret_cast<std::uint8_t*>(const_cast<char*>(text.data()));
  }

  std::vector<nghttp2_nv> nva_;
  // 20 digits hold any std::uint64_t.
  std::array<std::array<char, 20>, 2> numbers_{};
  std::size_t numbers_used_ = 0;
};

void add_regular_fields(NvList& nv, const Fields& fields, bool keep_host) {
  for (const auto& field : fields) {
    if (field.name.empty() || field.name.front() == ':') {
      continue;
    }
    if (field.name == "te" && !iequals(field.value, "trailers")) {
      continue;
    }
    if (is_connection_specific(field.name) && !(keep_host && field.name == "host")) {
      continue;
    }
    nv.add(field.name, field.value);
  }
}

}  // namespace

template <class Stream>
struct H2Session<Stream>::StreamState {
  std::int32_t id = -1;
  // Inbound message: the request (server role) or the response (client role).
  RequestHead request;
  ResponseHead response;
  int status = 0;
  bool in_trailers = false;
  Fields trailers;
  std::size_t header_bytes = 0;
  BodyPipePtr in;
  // Outbound body (response body for servers, request body for clients).
  BodyPipePtr out;
  bool out_deferred = false;
  bool closed = false;
  // The request's method (client role: sent; server role: received, for the response framing).
  std::string request_method;
  // Client role: the final response for the waiting send().
  InformationalHandler on_informational;
  std::optional<Outcome<UpstreamResponse>> result;
  AsyncEvent result_event;
  // Server role: whether the handler has answered.
  bool responded = false;
};

template <class Stream>
class H2Session<Stream>::Exchange final : public ServerExchange {
 public:
  Exchange(std::shared_ptr<H2Session> session, std::shared_ptr<StreamState> state)
      : session_(std::move(session)), state_(std::move(state)) {
    // The head moves to the handler; the method stays behind for submit_response.
    state_->request_method = state_->request.method;
    request_ = std::move(state_->request);
    request_body_ = state_->in;
    peer_address_ = session_->peer_;
  }
  void send_informational(const ResponseHead& head) override {
    if (!state_->closed && !state_->responded && !session_->closed_) {
      session_->submit_informational(*state_, head);
    }
  }
  void send_response(ResponseHead head, BodyPipePtr body) override {
    if (state_->responded) {
      return;
    }
    state_->responded = true;
    if (state_->closed || session_->closed_) {
      if (body) {
        body->abandon();
      }
      return;
    }
    session_->submit_response(state_, std::move(head), std::move(body));
  }
  bool responded() const noexcept override { return state_->responded; }

 private:
  std::shared_ptr<H2Session> session_;
  std::shared_ptr<StreamState> state_;
};

// nghttp2 callbacks. `user_data` is the H2Session.
template <class Stream>
struct H2Session<Stream>::Callbacks {
  static H2Session& self(void* user_data) { return *static_cast<H2Session*>(user_data); }

  static StreamState* find(H2Session& s, std::int32_t id) {
    auto it = s.streams_.find(id);
    return it == s.streams_.end() ? nullptr : it->second.get();
  }

  static ssize_t send(nghttp2_session*, const std::uint8_t* data, std::size_t length, int,
                      void* user_data) {
    auto& s = self(user_data);
    if (s.out_.size() >= kMaxOutputBatch) {
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    s.out_.insert(s.out_.end(), data, data + length);
    return static_cast<ssize_t>(length);
  }

  // DATA frames are assembled here straight from the stream's pipe (NGHTTP2_DATA_FLAG_NO_COPY):
  // one copy from the pipe into the output batch.
  static int send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* framehd,
                       std::size_t length, nghttp2_data_source* source, void* user_data) {
    auto& s = self(user_data);
    if (s.out_.size() >= kMaxOutputBatch) {
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    auto* state = static_cast<StreamState*>(source->ptr);
    const std::size_t padlen = frame->data.padlen;
    const std::size_t start = s.out_.size();
    s.out_.resize(start + 9 + (padlen > 0 ? 1 : 0) + length + (padlen > 0 ? padlen - 1 : 0));
    std::memcpy(s.out_.data() + start, framehd, 9);
    std::size_t offset = start + 9;
    if (padlen > 0) {
      s.out_[offset++] = static_cast<std::uint8_t>(padlen - 1);
    }
    const std::size_t copied =
        state->out->read_into(std::span<std::uint8_t>(s.out_.data() + offset, length));
    if (copied != length) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // cannot happen: read_data reported what was queued
    }
    offset += length;
    if (padlen > 1) {
      std::memset(s.out_.data() + offset, 0, padlen - 1);
    }
    return 0;
  }

  static ssize_t read_data(nghttp2_session* session, std::int32_t stream_id, std::uint8_t*,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void*) {
    auto* state = static_cast<StreamState*>(source->ptr);
    auto& out = *state->out;
    if (out.failed()) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM: the body broke upstream
    }
    const std::size_t n = std::min(length, out.buffered());
    if (n > 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    }
    if (out.closed() && !out.failed() && n == out.buffered()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!out.trailers().empty()) {
        NvList nv(out.trailers().size());
        add_regular_fields(nv, out.trailers(), false);
        if (!nv.empty() && nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size()) == 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      return static_cast<ssize_t>(n);
    }
    if (n > 0) {
      return static_cast<ssize_t>(n);
    }
    state->out_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    const std::int32_t id = frame->hd.stream_id;
    if (s.role_ == Role::Server && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto state = std::make_shared<StreamState>();
      state->id = id;
      state->request.version = Version::Http2;
      state->request.headers.reserve(kExpectedFields);
      s.streams_[id] = std::move(state);
      return 0;
    }
    if (auto* state = find(s, id)) {
      state->in_trailers = frame->headers.cat == NGHTTP2_HCAT_HEADERS &&
                           (s.role_ == Role::Server || state->status >= 200);
      state->header_bytes = 0;
      if (s.role_ == Role::Client && !state->in_trailers) {
        state->response = ResponseHead{};
        state->response.version = Version::Http2;
        state->response.headers.reserve(kExpectedFields);
        state->status = 0;
      }
    }
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame,
                       const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
                       std::size_t valuelen, std::uint8_t, void* user_data) {
    auto& s = self(user_data);
    auto* state = find(s, frame->hd.stream_id);
    if (state == nullptr) {
      return 0;
    }
    state->header_bytes += namelen + valuelen + 32;  // RFC 9113 §6.5.2 accounting
    if (state->header_bytes > s.options_.max_header_bytes) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_ENHANCE_YOUR_CALM);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const std::string_view n = as_view(name, namelen);
    const std::string_view v = as_view(value, valuelen);
    if (state->in_trailers) {
      state->trailers.add(n, v);
      return 0;
    }
    if (s.role_ == Role::Server) {
      auto& request = state->request;
      if (n == ":method") {
        request.method = std::string(v);
      } else if (n == ":scheme") {
        request.scheme = std::string(v);
      } else if (n == ":authority") {
        request.authority = std::string(v);
      } else if (n == ":path") {
        request.target = std::string(v);
      } else if (n == ":protocol") {
        request.protocol = std::string(v);
      } else if (n == "content-length") {
        std::uint64_t length = 0;
        std::from_chars(v.data(), v.data() + v.size(), length);
        request.content_length = length;
        request.headers.add(n, v);
      } else {
        request.headers.add(n, v);
      }
    } else {
      if (n == ":status") {
        int status = 0;
        std::from_chars(v.data(), v.data() + v.size(), status);
        state->status = status;
        state->response.status = status;
      } else if (n == "content-length") {
        std::uint64_t length = 0;
        std::from_chars(v.data(), v.data() + v.size(), length);
        state->response.content_length = length;
        state->response.headers.add(n, v);
      } else {
        state->response.headers.add(n, v);
      }
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        auto it = s.streams_.find(frame->hd.stream_id);
        if (it == s.streams_.end()) {
          return 0;
        }
        auto state = it->second;
        if (state->in_trailers) {
          if (state->in) {
            state->in->finish(std::move(state->trailers));
          }
          return 0;
        }
        if (s.role_ == Role::Server) {
          state->request.has_body = !end_stream;
          s.attach_input(*state);
          if (end_stream) {
            state->in->finish();
          }
          s.dispatch_request(state);
          return 0;
        }
        if (state->status >= 100 && state->status < 200 && state->status != 101) {
          if (state->on_informational) {
            state->on_informational(state->response);
          }
          return 0;
        }
        state->response.has_body = !end_stream;
        s.attach_input(*state);
        if (end_stream) {
          state->in->finish();
        }
        s.deliver_response(state);
        return 0;
      }
      case NGHTTP2_DATA:
        if (end_stream) {
          if (auto* state = find(s, frame->hd.stream_id); state != nullptr && state->in) {
            state->in->finish();
          }
        }
        return 0;
      case NGHTTP2_GOAWAY: s.goaway_received_ = true; return 0;
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
          s.ping_outstanding_ = false;
          s.last_ping_ack_ = std::chrono::steady_clock::now();
        }
        return 0;
      default: return 0;
    }
  }

  static int on_data_chunk_recv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t length, void* user_data) {
    auto& s = self(user_data);
    auto* state = find(s, stream_id);
    if (state == nullptr || !state->in || state->in->consumer_gone() || state->in->closed()) {
      // Nobody reads this stream any more: return the credit and stop the peer.
      nghttp2_session_consume(session, stream_id, length);
      if (state != nullptr && state->in && state->in->consumer_gone()) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      }
      return 0;
    }
    state->in->write(ByteView(data, length));
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    // A server that has sent its whole response does not wait for the rest of the request
    // (RFC 9113 §8.1: RST_STREAM with NO_ERROR ends the request side).
    if (s.role_ == Role::Server && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
        (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
      if (auto* state = find(s, frame->hd.stream_id);
          state != nullptr && state->in && !state->in->closed()) {
        state->in->abandon();
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* user_data) {
    auto& s = self(user_data);
    auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) {
      return 0;
    }
    auto state = it->second;
    s.streams_.erase(it);
    state->closed = true;
    const auto reason = make_error_code(error_code == NGHTTP2_REFUSED_STREAM ? Errc::StreamRefused
                                                                             : Errc::StreamReset);
    if (state->in && !state->in->closed()) {
      state->in->fail(reason);
    }
    if (state->out && !state->out->closed()) {
      state->out->abandon();
    }
    if (s.role_ == Role::Client && !state->result) {
      state->result = Failure{reason, "stream " + std::to_string(stream_id) + " closed with " +
                                          nghttp2_http2_strerror(error_code)};
      state->result_event.notify();
    }
    return 0;
  }
};

template <class Stream>
H2Session<Stream>::H2Session(Stream stream, Role role, H2Options options, RequestHandler handler,
                             asio::ip::address peer)
    : stream_(std::move(stream)),
      role_(role),
      options_(std::move(options)),
      handler_(std::move(handler)),
      peer_(peer),
      last_ping_ack_(std::chrono::steady_clock::now()) {
  out_.reserve(kMaxOutputBatch + std::size_t{64} * 1024);
}

template <class Stream>
H2Session<Stream>::~H2Session() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
}

template <class Stream>
std::shared_ptr<H2Session<Stream>> H2Session<Stream>::make_server(Stream stream, H2Options options,
                                                                  RequestHandler handler,
                                                                  asio::ip::address peer) {
  std::shared_ptr<H2Session> session(
      new H2Session(std::move(stream), Role::Server, std::move(options), std::move(handler), peer));
  if (!session->init()) {
    return nullptr;
  }
  return session;
}

template <class Stream>
std::shared_ptr<H2Session<Stream>> H2Session<Stream>::make_client(Stream stream,
                                                                  H2Options options) {
  std::shared_ptr<H2Session> session(
      new H2Session(std::move(stream), Role::Client, std::move(options), {}, {}));
  if (!session->init()) {
    return nullptr;
  }
  return session;
}

template <class Stream>
bool H2Session<Stream>::init() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    return false;
  }
  nghttp2_session_callbacks_set_send_callback(callbacks, &Callbacks::send);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, &Callbacks::send_data);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                            &Callbacks::on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::on_stream_close);

  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Window credit is returned when bytes leave the pipe (see the header comment).
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_peer_max_concurrent_streams(option, 100);

  const int rv = role_ == Role::Server
                     ? nghttp2_session_server_new2(&session_, callbacks, this, option)
                     : nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  std::vector<nghttp2_settings_entry> settings{
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<std::uint32_t>(options_.max_header_bytes)}};
  if (role_ == Role::Server) {
    settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams});
    if (options_.enable_connect_protocol) {
      settings.push_back({NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1});
    }
  } else {
    settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  }
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) != 0 ||
      nghttp2_session_set_local_window_size(
          session_, NGHTTP2_FLAG_NONE, 0, static_cast<std::int32_t>(options_.connection_window)) !=
          0) {
    return false;
  }
  return true;
}

template <class Stream>
bool H2Session<Stream>::can_send() const noexcept {
  return !closed_ && !goaway_received_ && !shutting_down_ && session_ != nullptr &&
         nghttp2_session_check_request_allowed(session_) != 0;
}

template <class Stream>
asio::awaitable<ErrorCode> H2Session<Stream>::run() {
  auto self = this->shared_from_this();
  auto executor = co_await asio::this_coro::executor;
  loops_running_ = 2;
  auto reader = read_loop();
  asio::co_spawn(executor, std::move(reader), asio::detached);
  auto writer = write_loop();
  asio::co_spawn(executor, std::move(writer), asio::detached);
  if (role_ == Role::Client && options_.ping_interval.count() > 0) {
    auto pinger = ping_loop();
    asio::co_spawn(executor, std::move(pinger), asio::detached);
  }
  while (loops_running_ > 0) {
    co_await done_event_.wait();
  }
  closed_ = true;
  // Fail whatever is still open (the peer is gone).
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, state] : streams) {
    state->closed = true;
    const auto reason = end_reason_ ? end_reason_ : make_error_code(Errc::ConnectionClosed);
    if (state->in && !state->in->closed()) {
      state->in->fail(reason);
    }
    if (state->out) {
      state->out->abandon();
    }
    if (!state->result && role_ == Role::Client) {
      state->result = Failure{reason, "HTTP/2 connection ended"};
      state->result_event.notify();
    }
  }
  co_await close_stream(stream_);
  co_return end_reason_;
}

template <class Stream>
void H2Session<Stream>::fail(ErrorCode reason) {
  if (!end_reason_) {
    end_reason_ = reason;
  }
  terminate();
}

template <class Stream>
void H2Session<Stream>::terminate() {
  if (closed_) {
    return;
  }
  closed_ = true;
  abort_stream(stream_);
  if (ping_timer_) {
    ping_timer_->cancel();
  }
  signal_write();
}

template <class Stream>
void H2Session<Stream>::shutdown() {
  if (closed_ || shutting_down_) {
    return;
  }
  if (!initial_.empty()) {
    // Bytes already read from the peer (a sniffed preface and what came with it) are not yet
    // in nghttp2: the streams they open were sent before this GOAWAY and must be processed, so
    // the GOAWAY waits until read_loop has consumed them.
    goaway_after_initial_ = true;
    return;
  }
  shutting_down_ = true;
  // RFC 9113 §6.8: announce, then tell the peer the last stream we will process.
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  signal_write();
}

template <class Stream>
asio::awaitable<void> H2Session<Stream>::read_loop() {
  auto self = this->shared_from_this();
  if (!initial_.empty()) {
    const Bytes initial = std::move(initial_);
    const auto rv = nghttp2_session_mem_recv(session_, initial.data(), initial.size());
    if (rv < 0) {
      fail(make_error_code(Errc::ProtocolError));
    }
    if (goaway_after_initial_) {
      goaway_after_initial_ = false;
      shutdown();
    }
    signal_write();
  }
  std::vector<std::uint8_t> buffer(kReadBufferSize);
  while (!closed_) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), kUseTuple);
    if (n > 0 && !closed_) {
      const auto rv = nghttp2_session_mem_recv(session_, buffer.data(), n);
      if (rv < 0) {
        spdlog::debug("HTTP/2 protocol error: {}", nghttp2_strerror(static_cast<int>(rv)));
        fail(make_error_code(Errc::ProtocolError));
        break;
      }
      signal_write();
    }
    if (ec) {
      if (!end_reason_ && !shutting_down_) {
        end_reason_ = make_error_code(Errc::ConnectionClosed);
      }
      break;
    }
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      break;
    }
  }
  terminate();
  --loops_running_;
  done_event_.notify();
}

template <class Stream>
asio::awaitable<void> H2Session<Stream>::write_loop() {
  auto self = this->shared_from_this();
  for (;;) {
    if (closed_) {
      break;
    }
    if (nghttp2_session_send(session_) != 0) {
      fail(make_error_code(Errc::ProtocolError));
      break;
    }
    if (out_.empty()) {
      if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
        break;  // GOAWAY exchanged and every stream closed
      }
      // The wake-up is itself a post (core/async_event.h), queued behind the handlers of the
      // same reactor pass, so frames that those handlers submit still share this write. An
      // extra yield here (an earlier design) cost a non-blocking epoll_wait per wake-up and
      // moved neither rate nor CPU per request in same-run A/B runs (docs/benchmarks.md).
      co_await write_event_.wait();
      continue;
    }
    std::swap(out_, writing_);
    // Plain TCP (h2c): what fits into the socket buffer goes out without a suspension.
    boost::system::error_code ec;
    const std::string_view rest =
        send_what_fits(stream_, as_view(writing_.data(), writing_.size()), ec);
    if (!ec && !rest.empty()) {
      auto [write_ec, n] = co_await asio::async_write(stream_, asio::buffer(rest), kUseTuple);
      ec = write_ec;
    }
    writing_.clear();
    if (ec) {
      if (!end_reason_) {
        end_reason_ = make_error_code(Errc::ConnectionClosed);
      }
      break;
    }
  }
  terminate();
  --loops_running_;
  done_event_.notify();
}

template <class Stream>
asio::awaitable<void> H2Session<Stream>::ping_loop() {
  auto self = this->shared_from_this();
  ping_timer_ = std::make_unique<asio::steady_timer>(stream_.get_executor());
  auto& timer = *ping_timer_;
  while (!closed_) {
    timer.expires_after(ping_outstanding_ ? options_.ping_timeout : options_.ping_interval);
    co_await timer.async_wait(kUseTuple);
    if (closed_) {
      break;
    }
    if (ping_outstanding_) {
      spdlog::warn("HTTP/2 peer did not answer PING within {} ms; closing the connection",
                   options_.ping_timeout.count());
      fail(make_error_code(Errc::Timeout));
      break;
    }
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    ping_outstanding_ = true;
    signal_write();
  }
}

template <class Stream>
void H2Session<Stream>::attach_input(StreamState& state) {
  if (state.in) {
    return;
  }
  state.in = std::make_shared<BodyPipe>(options_.body_high_water);
  const std::int32_t id = state.id;
  std::weak_ptr<H2Session> weak = this->shared_from_this();
  // Return flow-control credit as the consumer takes bytes (RFC 9113 §6.9).
  state.in->set_consumed_callback([weak, id](std::size_t n) {
    auto s = weak.lock();
    if (!s || s->closed_) {
      return;
    }
    if (nghttp2_session_consume(s->session_, id, n) != 0) {
      nghttp2_session_consume_connection(s->session_, n);
    }
    s->signal_write();
  });
}

template <class Stream>
void H2Session<Stream>::attach_output(const std::shared_ptr<StreamState>& state,
                                      const BodyPipePtr& body) {
  state->out = body;
  std::weak_ptr<H2Session> weak_session = this->shared_from_this();
  std::weak_ptr<StreamState> weak_state = state;
  // A deferred DATA provider is resumed when the producer queues more (or ends the body).
  body->set_readable_callback([weak_session, weak_state] {
    auto s = weak_session.lock();
    auto st = weak_state.lock();
    if (!s || !st || s->closed_ || st->closed || !st->out_deferred) {
      return;
    }
    st->out_deferred = false;
    nghttp2_session_resume_data(s->session_, st->id);
    s->signal_write();
  });
}

template <class Stream>
void H2Session<Stream>::dispatch_request(const std::shared_ptr<StreamState>& state) {
  auto exchange = std::make_shared<Exchange>(this->shared_from_this(), state);
  auto run = run_request_handler(handler_, std::move(exchange));
  asio::co_spawn(stream_.get_executor(), std::move(run), asio::detached);
}

template <class Stream>
void H2Session<Stream>::submit_informational(StreamState& state, const ResponseHead& head) {
  NvList nv(head.headers.size() + 1);
  nv.add_number(":status", static_cast<std::uint64_t>(head.status));
  add_regular_fields(nv, head.headers, false);
  nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, state.id, nullptr, nv.data(), nv.size(),
                         nullptr);
  signal_write();
}

template <class Stream>
void H2Session<Stream>::submit_response(const std::shared_ptr<StreamState>& shared_state,
                                        ResponseHead head, BodyPipePtr body) {
  StreamState& state = *shared_state;
  NvList nv(head.headers.size() + 2);
  nv.add_number(":status", static_cast<std::uint64_t>(head.status));
  add_regular_fields(nv, head.headers, false);
  const bool content =
      body && (response_has_content(state.request_method, head.status) ||
               (state.request_method == "CONNECT" && head.status >= 200 && head.status < 300));
  if (head.content_length && !head.headers.contains("content-length") &&
      (content || state.request_method == "HEAD")) {
    nv.add_number("content-length", *head.content_length);
  }
  int rv = 0;
  if (content) {
    attach_output(shared_state, body);
    nghttp2_data_provider provider{};
    provider.source.ptr = &state;
    provider.read_callback = &Callbacks::read_data;
    rv = nghttp2_submit_response(session_, state.id, nv.data(), nv.size(), &provider);
  } else {
    if (body) {
      body->abandon();
    }
    rv = nghttp2_submit_response(session_, state.id, nv.data(), nv.size(), nullptr);
  }
  if (rv != 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, state.id, NGHTTP2_INTERNAL_ERROR);
  }
  signal_write();
}

template <class Stream>
void H2Session<Stream>::deliver_response(const std::shared_ptr<StreamState>& state) {
  if (state->result) {
    return;
  }
  UpstreamResponse response;
  response.head = std::move(state->response);
  response.head.status = state->status;
  const bool tunnel =
      state->request_method == "CONNECT" && state->status >= 200 && state->status < 300;
  if (tunnel || response_has_content(state->request_method, state->status)) {
    response.body = state->in;
  } else {
    state->in->abandon();
  }
  state->result = std::move(response);
  state->result_event.notify();
}

template <class Stream>
asio::awaitable<Outcome<UpstreamResponse>> H2Session<Stream>::send(
    RequestHead request, BodyPipePtr request_body, InformationalHandler on_informational) {
  auto self = this->shared_from_this();
  if (!can_send()) {
    if (request_body) {
      request_body->abandon();
    }
    co_return Failure{make_error_code(closed_ ? Errc::ConnectionClosed : Errc::GoAway),
                      "the HTTP/2 connection accepts no new requests"};
  }
  auto state = std::make_shared<StreamState>();
  state->request_method = request.method;
  state->on_informational = std::move(on_informational);

  const bool connect = request.method == "CONNECT";
  NvList nv(request.headers.size() + 5);
  nv.add(":method", request.method);
  if (!connect || !request.protocol.empty()) {
    nv.add(":scheme", request.scheme.empty() ? std::string_view(options_.default_scheme)
                                             : std::string_view(request.scheme));
    nv.add(":path",
           request.target.empty() ? std::string_view("/") : std::string_view(request.target));
  }
  if (!request.authority.empty()) {
    nv.add(":authority", request.authority);
  }
  if (!request.protocol.empty()) {
    nv.add(":protocol", request.protocol);
  }
  // An HTTP/1.1 Host travels as a regular field when there is no :authority, exactly as the
  // flashbots proxy-client sends it (interop spec §7.1); RFC 9113 §8.3.1 allows either.
  add_regular_fields(nv, request.headers, request.authority.empty());

  const bool has_output = request_body && (request.has_body || connect);
  nghttp2_data_provider provider{};
  std::int32_t id = 0;
  if (has_output) {
    provider.source.ptr = state.get();
    provider.read_callback = &Callbacks::read_data;
    state->out = request_body;
    id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, state.get());
  } else {
    if (request_body) {
      request_body->abandon();
    }
    id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), nullptr, state.get());
  }
  if (id < 0) {
    co_return Failure{make_error_code(Errc::StreamRefused),
                      std::string("submitting the request: ") + nghttp2_strerror(id)};
  }
  state->id = id;
  streams_[id] = state;
  if (has_output) {
    attach_output(state, request_body);
  }
  signal_write();
  while (!state->result) {
    co_await state->result_event.wait();
  }
  co_return std::move(*state->result);
}

template class H2Session<PlainStream>;
template class H2Session<TlsStream>;

}  // namespace atls::http
