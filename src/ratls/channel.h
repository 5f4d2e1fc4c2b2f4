#pragma once
// The flashbots-ratls/1 attested channel (interop spec §2): TLS 1.3 handshake, then exactly two
// framed messages — the server's first; the client verifies it, then always answers — after
// which the TLS stream carries the application protocol.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "attest/attester.h"
#include "core/clock.h"
#include "core/error.h"
#include "ratls/alpn.h"
#include "ratls/appraisal.h"
#include "ratls/channel_observer.h"

namespace atls::ratls {

using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

/// The appraiser in force; replaced as a whole on reload (SIGHUP), read once per attempt.
class AppraiserSlot {
 public:
  explicit AppraiserSlot(std::shared_ptr<const Appraiser> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Appraiser> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const Appraiser> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Appraiser> current_;
};

struct ChannelConfig {
  /// Produces the local evidence (NoneAttester when not attesting).
  attest::AttesterPtr attester;
  /// Verifies the peer's message under the local policy.
  std::shared_ptr<const Appraiser> appraiser;
  /// When set, replaces `appraiser`: the slot's current appraiser is used (policy reload).
  std::shared_ptr<AppraiserSlot> appraiser_slot;
  /// Executor of the pool that runs evidence generation and verification.
  boost::asio::any_io_executor attestation_executor;
  /// Deadline of each step: TLS handshake, sending our frame, receiving the peer's frame,
  /// generating evidence, verifying evidence.
  std::chrono::milliseconds step_timeout{30000};
  /// Time source for verification.
  std::shared_ptr<const Clock> clock;
  /// `--log-dcap-quote`: write every received non-none evidence to
  /// <dir>/<type>-<unix-nanoseconds> (flashbots names its fixtures this way, interop §8.1).
  std::optional<std::filesystem::path> evidence_log_dir;
  /// Told about every attempt (metrics, audit log, drift); may be null.
  std::shared_ptr<ChannelObserver> observer;
};

/// What an established channel knows.
struct ChannelInfo {
  std::string alpn;
  HttpVersion http_version = HttpVersion::Http1;
  attest::AttestationType local_type = attest::AttestationType::None;
  PeerAttestation peer;
};

/// Server side: TLS handshake on `stream`, then send our frame and appraise the client's.
/// On failure the caller closes the connection (there is no in-band error, §2.4).
boost::asio::awaitable<Outcome<ChannelInfo>> accept_channel(TlsStream& stream,
                                                            const ChannelConfig& config);

/// Client side: TLS handshake verifying `server_name` (DNS name or IP literal), then appraise
/// the server's frame and send ours.
boost::asio::awaitable<Outcome<ChannelInfo>> open_channel(TlsStream& stream,
                                                          std::string_view server_name,
                                                          const ChannelConfig& config);

}  // namespace atls::ratls
