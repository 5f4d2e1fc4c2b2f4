#pragma once
// The proxy-client's attested channels to its proxy-server.
//
// HTTP/2 (the normal case, ALPN flashbots-ratls/1+h2): ONE channel carries every request as its
// own stream, so requests are multiplexed and never wait for each other; opening a source
// connection never costs an attestation. HTTP/1.1 (a server that only offers
// flashbots-ratls/1+http/1.1): a bounded pool of channels, one request at a time on each,
// each channel attested on its own — unrelated requests do not queue behind each other until
// the pool is exhausted.
//
// When the channel breaks, a background task re-establishes it with capped exponential backoff
// (plus jitter); requests arriving meanwhile wait up to `acquire_timeout` and then fail with
// 502 (interop spec §7.5). flashbots instead queues them without limit (§7.2).

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/async_event.h"
#include "http/exchange.h"
#include "http/h1_client.h"
#include "http/h2_session.h"
#include "http/stream_util.h"
#include "net/address.h"
#include "proxy/http/attestation_headers.h"
#include "ratls/channel.h"
#include "tls/context.h"

namespace atls::proxy {

struct ChannelPoolOptions {
  net::HostPort server;
  tls::SharedSslContext tls;
  ratls::ChannelConfig channel;
  http::H2Options h2;
  http::H1ClientOptions h1;
  /// How long a request waits for a usable channel before failing.
  std::chrono::milliseconds acquire_timeout{std::chrono::seconds(10)};
  /// HTTP/1.1 inside the channel: most channels open at once.
  std::size_t max_h1_channels = 8;
  std::chrono::milliseconds reconnect_min{std::chrono::milliseconds(250)};
  std::chrono::milliseconds reconnect_max{std::chrono::seconds(30)};
  /// policy.max_attestation_age: an HTTP/2 channel older than this is replaced before it gets
  /// there — a new channel (fresh attestation) is established first, then the old one is shut
  /// down gracefully (GOAWAY; its open streams finish), so no request fails. Zero = never.
  std::chrono::milliseconds max_attestation_age{0};
  /// Rejections this predicate calls transient do not make start() fail: the pool keeps
  /// retrying with backoff, as for an unreachable server. The CLI sets it when the verifier
  /// fetches collateral in the background, so "the peer's collateral is not cached yet"
  /// (tdx.collateral_unavailable, snp.certificate_missing) is retried rather than fatal.
  std::function<bool(const ErrorCode&)> transient_rejection;
};

/// A channel ready to carry one request (HTTP/1.1) or any number (HTTP/2).
struct UpstreamChannel {
  std::shared_ptr<http::UpstreamSession> session;
  /// The server's appraised attestation on this channel (headers are derived from it).
  std::shared_ptr<const ratls::PeerAttestation> peer;
  /// The header values derived from `peer`, computed once for the channel's lifetime.
  std::shared_ptr<const AttestationHeaderValues> attestation_headers;
  ratls::HttpVersion version = ratls::HttpVersion::Http2;
  std::chrono::steady_clock::time_point established_at{};
  /// HTTP/1.1: takes no new request and is closed once idle (retire_channels_if).
  bool retired = false;
};

class ChannelPool {
 public:
  ChannelPool(boost::asio::any_io_executor executor, ChannelPoolOptions options);

  /// Establishes the first channel and starts the reconnect task. Fails (and the caller
  /// should exit) only when the server was reached but refused or failed attestation or
  /// certificate verification; an unreachable server is retried in the background.
  boost::asio::awaitable<Outcome<void>> start();

  /// A channel that can take a request now. Errors: no channel within acquire_timeout (the
  /// detail carries the last connection error).
  boost::asio::awaitable<Outcome<UpstreamChannel>> acquire();
  /// A channel that can take a request now, without suspending: the usual case once the pool
  /// is up, and on the path of every request, so it costs no coroutine frame. nullopt when
  /// every channel is busy, closed or still connecting (then acquire() waits).
  std::optional<UpstreamChannel> try_acquire();

  /// Stops reconnecting and closes the channels gracefully.
  void shutdown();
  /// shutdown() once `busy` returns false, polled every 20 ms on the pool's executor (at once
  /// if it is false now): work accepted before a drain — a source request whose head is still
  /// arriving, a database session in start-up — still gets its stream. Until then the pool
  /// keeps serving (and reconnecting) as before.
  void shutdown_when_idle(std::function<bool()> busy);

  /// After a policy reload: every channel whose server attestation `reject` refuses is retired
  /// gracefully — the HTTP/2 channel gets GOAWAY (open streams finish) and a new channel is
  /// established and appraised under the new policy; HTTP/1.1 channels take no new request and
  /// close once idle. Requests meanwhile wait for the new channel (acquire_timeout).
  /// @par Thread Safety
  /// Any thread: the work is posted to the pool's executor.
  void retire_channels_if(std::function<bool(const ratls::PeerAttestation&)> reject);

  /// Channels established from now on use `context` (a reloaded client certificate or trust
  /// anchors); established ones keep theirs. Any thread.
  void replace_tls_context(tls::SharedSslContext context) { tls_.set(std::move(context)); }

  /// Whether some channel is currently established.
  bool connected() const noexcept;
  /// Channels established since start (the first included).
  std::size_t established_count() const noexcept { return established_; }

 private:
  boost::asio::awaitable<Outcome<UpstreamChannel>> establish();
  boost::asio::awaitable<void> maintain();
  boost::asio::awaitable<void> run_h2(std::shared_ptr<http::H2Session<http::TlsStream>> session);
  /// Drops closed HTTP/1.1 channels (telling the observer), and closes idle ones that are
  /// retired or older than max_attestation_age (new ones are opened, freshly attested, when
  /// requests need them).
  void prune_closed_h1();
  /// When the HTTP/2 channel must be renewed (max_attestation_age), else time_point::max().
  std::chrono::steady_clock::time_point renewal_due() const;
  boost::asio::awaitable<void> renew_h2();
  boost::asio::awaitable<void> open_extra_h1();
  boost::asio::awaitable<void> shutdown_after(std::function<bool()> busy);
  void adopt(const UpstreamChannel& channel);
  std::chrono::milliseconds next_backoff();

  boost::asio::any_io_executor executor_;
  ChannelPoolOptions options_;
  tls::ContextSlot tls_;
  UpstreamChannel h2_;
  std::vector<UpstreamChannel> h1_;
  bool h1_mode_ = false;
  std::size_t connecting_ = 0;
  std::size_t reserved_ = 0;
  bool stopped_ = false;
  std::size_t established_ = 0;
  std::chrono::milliseconds backoff_;
  std::string last_error_ = "not connected yet";
  AsyncBroadcast changed_;
};

/// Whether a failure to establish a channel is a configuration problem (the server answered
/// but its certificate or attestation is not acceptable) rather than a transient one.
bool is_fatal_channel_failure(const ErrorCode& code);

}  // namespace atls::proxy
