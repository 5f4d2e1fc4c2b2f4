#pragma once
// The attestation message and its frame (interop spec §2.2, §2.3).
//
//   frame   = u32 big-endian length N (N <= 65536) || message (N bytes)
//   message = SCALE String attestation_type || SCALE Vec<u8> evidence
//
// Decoding is strict: minimal compact lengths only, no bytes after the evidence, and only the
// type strings of attest::AttestationType. (flashbots ignores trailing bytes; it never sends any,
// so rejecting them costs no interoperability.)

#include <array>
#include <cstddef>
#include <cstdint>

#include "attest/attestation_type.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::ratls {

/// Largest message length a frame may announce, inclusive (§2.2).
inline constexpr std::size_t kMaxFrameLength = 65536;
inline constexpr std::size_t kFrameHeaderSize = 4;

struct AttestationMessage {
  attest::AttestationType type = attest::AttestationType::None;
  Bytes evidence;

  bool operator==(const AttestationMessage&) const = default;
};

/// Appends the minimal SCALE compact encoding of `value` (modes 0-2; values >= 2^30 use the
/// big-integer mode, which no valid frame needs but the encoder supports for completeness).
void append_compact(Bytes& out, std::uint64_t value);

/// Decodes one SCALE compact integer from the front of `in` and advances `in` past it.
/// Errors: CompactNonMinimal, CompactInvalid (big-integer mode longer than 8 bytes), FieldOverrun.
Result<std::uint64_t> read_compact(ByteView& in);

/// SCALE encoding of `message` (no frame header).
Bytes encode_message(const AttestationMessage& message);

/// Strict decoding of a whole message. Errors: see the header comment; UnknownAttestationType for
/// a type string that is not one of the wire names.
Result<AttestationMessage> decode_message(ByteView in);

/// Frame header + message. FrameTooLarge (and nothing produced) if the message exceeds 64 KiB.
Result<Bytes> encode_frame(const AttestationMessage& message);

/// Validates a received frame header; returns the announced message length or FrameTooLarge.
Result<std::size_t> parse_frame_header(const std::array<std::uint8_t, kFrameHeaderSize>& header);

}  // namespace atls::ratls
