#pragma once
// A client of the host's Intel Quote Generation Service (QGS) over a stream socket
// (docs/verification.md §5.3): the TD sends its TDREPORT in a GET_QUOTE_REQ and receives the
// DCAP quote in a GET_QUOTE_RESP, each message framed by a 4-byte big-endian length
// (qgs_message.h). This is what Intel's libtdx_attest does when /etc/tdx-attest.conf names a
// vsock port, and what the VMM itself does for configfs-tsm and TDX_CMD_GET_QUOTE.
//
// The QGS listens on vsock on the host (CID 2; port 4050 is the default of qgsd and of QEMU's
// `quote-generation-socket` examples). `unix:` and `tcp:` addresses exist for tests: vsock has
// no loopback to a user-space server on a normal machine (vsock_loopback needs a kernel module
// and CID 1), so the tests run a fake QGS on a unix socket or 127.0.0.1.
//
// One connection per request, closed after the response. Blocking, with a connect timeout and
// one timeout for the whole exchange after it; run it on the attestation pool.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "attest/tdx_gen/tdx_guest_device.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx_gen {

/// VMADDR_CID_HOST.
inline constexpr std::uint32_t kQgsDefaultCid = 2;
inline constexpr std::uint32_t kQgsDefaultPort = 4050;
inline constexpr std::string_view kDefaultQgsAddress = "vsock:2:4050";
/// Bound on a QGS response: a quote (kMaxQuoteSize, 16 KiB) plus the message fields, with room.
inline constexpr std::size_t kMaxQgsResponseSize = std::size_t{64} * 1024;

struct QgsAddress {
  enum class Family { Vsock, Unix, Tcp };
  Family family = Family::Vsock;
  std::uint32_t cid = kQgsDefaultCid;    ///< vsock
  std::uint32_t port = kQgsDefaultPort;  ///< vsock, tcp (≤ 65535)
  std::string path;                      ///< unix
  std::string host;                      ///< tcp: an IPv4 literal

  /// The text form parse_qgs_address accepts ("vsock:2:4050").
  std::string to_string() const;
};

/// Parses `vsock:CID:PORT` (decimal u32s), `unix:/path` (non-empty, fits sun_path) or
/// `tcp:A.B.C.D:PORT` (an IPv4 literal, port 1–65535; meant for tests). Strict: no spaces, no
/// signs, no names to resolve. Errors: tdx_gen.qgs_address_invalid.
Outcome<QgsAddress> parse_qgs_address(std::string_view text);

struct QgsClientOptions {
  QgsAddress address;
  /// Bound on connect().
  std::chrono::milliseconds connect_timeout{2000};
  /// Bound on sending the request and receiving the whole response (the QGS signs with its
  /// quoting enclave; QEMU allows 30 s for the same exchange).
  std::chrono::milliseconds io_timeout{30000};
  /// Larger length prefixes are refused before anything is allocated.
  std::size_t max_response_size = kMaxQgsResponseSize;
};

/// One framed exchange: connect, send frame(request), read one framed response, close.
/// @return the response message (without its length prefix). Errors: tdx_gen.qgs_connect_failed,
/// qgs_timeout (connect or exchange), qgs_io_failed (send/recv error, connection closed early),
/// qgs_response_too_large.
/// @par Thread Safety
/// Safe to call concurrently (one socket per call).
Outcome<Bytes> qgs_exchange(const QgsClientOptions& options, ByteView request);

/// GET_QUOTE for `report`: qgs_exchange() then decode_get_quote_response(). @return the quote
/// (unchecked: the attester checks it). Errors: those of qgs_exchange and of the decoder.
Outcome<Bytes> qgs_get_quote(const QgsClientOptions& options, const TdReport& report);

}  // namespace atls::attest::tdx_gen
