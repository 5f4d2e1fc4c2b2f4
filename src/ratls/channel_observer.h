#pragma once
// What the channel reports about every attempt, for metrics, the audit log and drift detection
// (src/ops). The channel only measures and describes; the observer decides what to record.

#include <optional>
#include <string>

#include "attest/attestation_type.h"
#include "attest/claims.h"
#include "core/error.h"

namespace atls::ratls {

enum class ChannelRole { Server, Client };

/// Where an attempt ended. Stable words: used as metric label values.
enum class ChannelStage {
  Handshake,     ///< TCP/TLS handshake or ALPN/TLS version checks
  Generation,    ///< producing our own evidence
  Exchange,      ///< sending or receiving an attestation frame
  Verification,  ///< verifying the peer's evidence or applying the policy
  Established,   ///< success
};

std::string_view to_string(ChannelRole role) noexcept;
std::string_view to_string(ChannelStage stage) noexcept;

struct ChannelReport {
  ChannelRole role = ChannelRole::Server;
  /// The peer's address "ip:port" (operator-facing; never a metric label).
  std::string peer;
  ChannelStage stage = ChannelStage::Handshake;
  /// Empty on success.
  ErrorCode error;
  std::string error_detail;
  std::string alpn;
  attest::AttestationType local_type = attest::AttestationType::None;
  /// Type the peer claimed (set once its frame was decoded).
  std::optional<attest::AttestationType> peer_claimed_type;
  /// SHA-256 (hex) of the peer's evidence bytes; empty when it sent none.
  std::string peer_evidence_sha256;
  /// Verified and accepted claims (only for an attested, accepted peer).
  std::optional<attest::VerifiedClaims> peer_claims;
  std::string matched_record;
  std::string downgrade_reason;
  /// Durations in seconds; zero for steps that did not run.
  double handshake_seconds = 0;     ///< TLS handshake
  double generation_seconds = 0;    ///< our evidence
  double verification_seconds = 0;  ///< the peer's evidence (verify + policy)
  double total_seconds = 0;
};

class ChannelObserver {
 public:
  virtual ~ChannelObserver() = default;
  /// Called once per attempt when it ends (success or failure), on the channel's I/O thread;
  /// must not block (queue disk writes).
  virtual void on_channel(const ChannelReport& report) noexcept = 0;
  /// An established channel closed.
  virtual void on_channel_closed(ChannelRole role) noexcept = 0;
};

}  // namespace atls::ratls
