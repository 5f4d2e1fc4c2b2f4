#include "proxy/http/channel_pool.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>

#include "http/errors.h"
#include "http/stream_util.h"
#include "net/errors.h"
#include "ratls/connector.h"
#include "ratls/errors.h"

namespace atls::proxy {

namespace asio = boost::asio;

bool is_fatal_channel_failure(const ErrorCode& code) {
  if (code.category() == asio::error::get_ssl_category()) {
    return ERR_GET_REASON(static_cast<unsigned long>(code.value())) ==
           SSL_R_CERTIFICATE_VERIFY_FAILED;
  }
  if (code.category() == ratls::ratls_category()) {
    switch (static_cast<ratls::Errc>(code.value())) {
      case ratls::Errc::HandshakeTimeout:
      case ratls::Errc::ExchangeTimeout:
      case ratls::Errc::AttestationTimeout:
      case ratls::Errc::PeerClosed:
      case ratls::Errc::FrameTruncated: return false;
      default: return true;
    }
  }
  // Transport failures are transient; a verifier's named error is a rejection.
  return !(code.category() == net::net_category() ||
           code.category() == boost::system::system_category() ||
           code.category() == boost::system::generic_category() ||
           code.category() == asio::error::get_misc_category() ||
           code.category() == asio::ssl::error::get_stream_category() ||
           code.category() == http::http_category());
}

ChannelPool::ChannelPool(asio::any_io_executor executor, ChannelPoolOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      tls_(options_.tls),
      backoff_(options_.reconnect_min),
      changed_(executor_) {}

bool ChannelPool::connected() const noexcept {
  if (h2_.session && !h2_.session->closed()) {
    return true;
  }
  for (const auto& channel : h1_) {
    if (!channel.session->closed()) {
      return true;
    }
  }
  return false;
}

std::chrono::milliseconds ChannelPool::next_backoff() {
  // Full jitter in [backoff/2, backoff] so that many clients do not reconnect in lockstep.
  static thread_local std::minstd_rand random(std::random_device{}());
  const auto current = backoff_;
  backoff_ = std::min(options_.reconnect_max, backoff_ * 2);
  std::uniform_int_distribution<long long> spread(current.count() / 2, current.count());
  return std::chrono::milliseconds(spread(random));
}

asio::awaitable<Outcome<UpstreamChannel>> ChannelPool::establish() {
  ++connecting_;
  auto context = tls_.get();
  auto channel =
      co_await ratls::connect_channel(options_.server, std::move(context), options_.channel);
  --connecting_;
  if (stopped_ && channel) {
    co_return Failure{make_error_code(http::Errc::ConnectionClosed), "proxy is shutting down"};
  }
  if (!channel) {
    last_error_ = channel.error().describe();
    co_return channel.error();
  }
  UpstreamChannel upstream;
  upstream.version = channel->info.http_version;
  upstream.established_at = std::chrono::steady_clock::now();
  upstream.peer = std::make_shared<const ratls::PeerAttestation>(channel->info.peer);
  upstream.attestation_headers =
      std::make_shared<const AttestationHeaderValues>(attestation_header_values(*upstream.peer));
  if (upstream.version == ratls::HttpVersion::Http2) {
    auto session =
        http::H2Session<http::TlsStream>::make_client(std::move(*channel->stream), options_.h2);
    if (!session) {
      co_return Failure{make_error_code(http::Errc::ProtocolError), "HTTP/2 session setup"};
    }
    upstream.session = session;
    auto runner = run_h2(session);
    asio::co_spawn(executor_, std::move(runner), asio::detached);
  } else {
    auto session = std::make_shared<http::H1ClientSession<http::TlsStream>>(
        std::move(*channel->stream), options_.h1);
    // Requests waiting for a channel re-check when one becomes free.
    std::weak_ptr<http::H1ClientSession<http::TlsStream>> weak = session;
    session->set_state_callback([this, weak] {
      if (auto self = weak.lock(); self && stopped_ && self->can_send()) {
        self->close();
      }
      changed_.notify_all();
    });
    upstream.session = session;
  }
  ++established_;
  const auto& peer = *upstream.peer;
  spdlog::info("attested channel to {} established ({}): server {}", options_.server.to_string(),
               channel->info.alpn,
               peer.attested() ? std::string(attest::to_string(peer.reported_type())) + " (" +
                                     peer.matched_record + ")"
                               : std::string("unattested"));
  co_return upstream;
}

void ChannelPool::adopt(const UpstreamChannel& channel) {
  if (channel.version == ratls::HttpVersion::Http2) {
    h1_mode_ = false;
    h2_ = channel;
  } else {
    h1_mode_ = true;
    h1_.push_back(channel);
  }
  backoff_ = options_.reconnect_min;
  changed_.notify_all();
}

asio::awaitable<Outcome<void>> ChannelPool::start() {
  auto first = co_await establish();
  if (first) {
    adopt(*first);
  } else if (options_.transient_rejection && options_.transient_rejection(first.error().code)) {
    spdlog::warn(
        "attested channel to {} refused for now ({}): the verifier is fetching what it needs "
        "in the background; retrying",
        options_.server.to_string(), first.error().describe());
  } else if (is_fatal_channel_failure(first.error().code)) {
    co_return first.error();
  } else {
    spdlog::warn("proxy-server {} not reachable yet ({}); retrying in the background",
                 options_.server.to_string(), first.error().describe());
  }
  auto keeper = maintain();
  asio::co_spawn(executor_, std::move(keeper), asio::detached);
  co_return Outcome<void>{};
}

asio::awaitable<void> ChannelPool::run_h2(
    std::shared_ptr<http::H2Session<http::TlsStream>> session) {
  const ErrorCode reason = co_await session->run();
  if (options_.channel.observer) {
    options_.channel.observer->on_channel_closed(ratls::ChannelRole::Client);
  }
  if (h2_.session == session) {
    h2_ = UpstreamChannel{};
    if (!stopped_) {
      last_error_ = "channel lost: " + (reason ? describe(reason) : std::string("closed"));
      spdlog::warn("attested channel to {} lost ({}); reconnecting", options_.server.to_string(),
                   reason ? describe(reason) : std::string("closed by the server"));
    }
  }
  changed_.notify_all();
}

asio::awaitable<void> ChannelPool::maintain() {
  asio::steady_timer pause(executor_);
  while (!stopped_) {
    prune_closed_h1();
    if (connected()) {
      const auto due = renewal_due();
      if (std::chrono::steady_clock::now() >= due) {
        co_await renew_h2();
        continue;
      }
      co_await changed_.wait_until(
          std::min(due, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
      continue;
    }
    auto channel = co_await establish();
    if (stopped_) {
      break;
    }
    if (channel) {
      adopt(*channel);
      continue;
    }
    const auto delay = next_backoff();
    spdlog::warn("cannot establish the attested channel to {}: {}; next attempt in {} ms",
                 options_.server.to_string(), channel.error().describe(), delay.count());
    changed_.notify_all();  // waiting requests re-check (and may give up)
    pause.expires_after(delay);
    co_await pause.async_wait(http::kUseTuple);
  }
}

void ChannelPool::prune_closed_h1() {
  // Idle channels that must not take another request close now: retired by a policy reload,
  // or older than max_attestation_age (new ones are opened, freshly attested, on demand).
  const auto now = std::chrono::steady_clock::now();
  const bool age_limited = options_.max_attestation_age.count() > 0;
  for (const auto& channel : h1_) {
    const bool too_old =
        age_limited && now - channel.established_at >= options_.max_attestation_age;
    if ((channel.retired || too_old) && channel.session->can_send()) {
      if (auto* h1 = dynamic_cast<http::H1ClientSession<http::TlsStream>*>(channel.session.get())) {
        h1->close();
      }
    }
  }
  const auto removed =
      std::erase_if(h1_, [](const UpstreamChannel& c) { return c.session->closed(); });
  if (options_.channel.observer) {
    for (std::size_t i = 0; i < removed; ++i) {
      options_.channel.observer->on_channel_closed(ratls::ChannelRole::Client);
    }
  }
}

std::chrono::steady_clock::time_point ChannelPool::renewal_due() const {
  if (options_.max_attestation_age.count() <= 0 || !h2_.session || h2_.session->closed()) {
    return std::chrono::steady_clock::time_point::max();
  }
  // Renew at 90% of the age so that the new attestation is in place before the old one is too
  // old, whatever the handshake takes (bounded by the step timeouts).
  return h2_.established_at + options_.max_attestation_age * 9 / 10;
}

asio::awaitable<void> ChannelPool::renew_h2() {
  auto old = h2_;
  spdlog::info(
      "attested channel to {} reached 90% of max attestation age ({} ms): "
      "re-attesting on a new channel",
      options_.server.to_string(), options_.max_attestation_age.count());
  auto fresh = co_await establish();
  if (stopped_) {
    co_return;
  }
  if (!fresh) {
    // Keep serving on the old channel until it expires; retry with backoff.
    const auto delay = next_backoff();
    spdlog::warn("re-attestation to {} failed: {}; retrying in {} ms", options_.server.to_string(),
                 fresh.error().describe(), delay.count());
    asio::steady_timer pause(executor_, delay);
    co_await pause.async_wait(http::kUseTuple);
    co_return;
  }
  adopt(*fresh);
  if (old.session && h2_.session != old.session) {
    // GOAWAY: streams already open on the old channel complete; new requests use the new one.
    if (auto* h2 = dynamic_cast<http::H2Session<http::TlsStream>*>(old.session.get())) {
      h2->shutdown();
    }
  }
}

asio::awaitable<void> ChannelPool::open_extra_h1() {
  --reserved_;  // establish() counts itself from here on
  auto channel = co_await establish();
  if (channel && !stopped_) {
    adopt(*channel);
  } else {
    changed_.notify_all();
  }
}

std::optional<UpstreamChannel> ChannelPool::try_acquire() {
  if (stopped_) {
    return std::nullopt;
  }
  if (h2_.session && h2_.session->can_send()) {
    return h2_;
  }
  prune_closed_h1();
  for (const auto& channel : h1_) {
    if (!channel.retired && channel.session->can_send()) {
      return channel;
    }
  }
  return std::nullopt;
}

asio::awaitable<Outcome<UpstreamChannel>> ChannelPool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    if (stopped_) {
      co_return Failure{make_error_code(http::Errc::ConnectionClosed), "proxy is shutting down"};
    }
    if (auto ready = try_acquire()) {
      co_return std::move(*ready);
    }
    if (h1_mode_ && !h1_.empty() &&
        h1_.size() + connecting_ + reserved_ < options_.max_h1_channels) {
      ++reserved_;  // counted before the opener runs, so concurrent waiters do not overshoot
      auto opener = open_extra_h1();
      asio::co_spawn(executor_, std::move(opener), asio::detached);
    }
    if (!co_await changed_.wait_until(deadline)) {
      co_return Failure{make_error_code(http::Errc::Timeout),
                        "no attested channel to " + options_.server.to_string() + " within " +
                            std::to_string(options_.acquire_timeout.count()) + " ms (" +
                            last_error_ + ")"};
    }
  }
}

void ChannelPool::retire_channels_if(std::function<bool(const ratls::PeerAttestation&)> reject) {
  asio::post(executor_, [this, reject = std::move(reject)] {
    if (stopped_) {
      return;
    }
    bool retired_any = false;
    if (h2_.session && h2_.peer && reject(*h2_.peer)) {
      spdlog::warn(
          "the reloaded policy no longer accepts the attestation of {} on the current channel: "
          "closing it gracefully and re-attesting",
          options_.server.to_string());
      const auto old = std::dynamic_pointer_cast<http::H2Session<http::TlsStream>>(h2_.session);
      h2_ = UpstreamChannel{};
      last_error_ = "channel retired by a policy reload";
      if (old) {
        old->shutdown();  // GOAWAY: open streams complete
      }
      retired_any = true;
    }
    for (auto& channel : h1_) {
      if (!channel.retired && channel.peer && reject(*channel.peer)) {
        channel.retired = true;
        retired_any = true;
      }
    }
    if (retired_any) {
      prune_closed_h1();
      changed_.notify_all();  // maintain() re-establishes; waiting requests re-check
    }
  });
}

void ChannelPool::shutdown() {
  stopped_ = true;
  if (auto session = std::dynamic_pointer_cast<http::H2Session<http::TlsStream>>(h2_.session)) {
    session->shutdown();
  }
  // HTTP/1.1 channels: idle ones close now, busy ones as soon as their exchange ends (the
  // state callback below), so that a draining proxy fails no request.
  for (auto& channel : h1_) {
    if (auto session =
            std::dynamic_pointer_cast<http::H1ClientSession<http::TlsStream>>(channel.session);
        session && session->can_send()) {
      session->close();
    }
  }
  changed_.notify_all();
}

void ChannelPool::shutdown_when_idle(std::function<bool()> busy) {
  if (!busy()) {
    shutdown();
    return;
  }
  auto waiter = shutdown_after(std::move(busy));
  asio::co_spawn(executor_, std::move(waiter), asio::detached);
}

asio::awaitable<void> ChannelPool::shutdown_after(std::function<bool()> busy) {
  asio::steady_timer poll(executor_);
  while (busy()) {
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(http::kUseTuple);
  }
  shutdown();
}

}  // namespace atls::proxy
