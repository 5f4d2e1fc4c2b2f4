#pragma once
// A fake Intel Quote Generation Service (QGS) for the TDX attester's QGS path
// (src/attest/tdx_gen/qgs_client.h): a real stream socket server on a unix socket or an
// ephemeral 127.0.0.1 port, speaking the QGS framing (4-byte big-endian length, then the
// message; docs/verification.md §5.3). The real QGS listens on vsock, which has no loopback to a
// user-space server on this machine; the client code is the same apart from the address family.
//
// Each connection is served on its own thread: read one framed request, ask the handler, then
// reply (framed), reply with raw bytes (framing tests), close without a reply, or wait first
// (timeout tests; the wait ends early when the server is destroyed). The handler also backs the
// fake /dev/tdx_guest's TDX_CMD_GET_QUOTE (fake_tdx_guest.h), which carries the same frames.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attest/mock/tdx_mock.h"
#include "core/bytes.h"

namespace atls::testing {

struct FakeQgsReply {
  Bytes message;                       ///< the response message, sent framed
  std::optional<Bytes> raw;            ///< sent verbatim instead of the framed message
  bool close_without_reply = false;    ///< close the connection after reading the request
  std::chrono::milliseconds delay{0};  ///< wait before replying
};

/// Answers one GET_QUOTE request message (without its length prefix).
using FakeQgsHandler = std::function<FakeQgsReply(const Bytes& request)>;

/// The INSECURE mock quoting service as a QGS: decodes the GET_QUOTE_REQ, takes the REPORTDATA
/// from the TDREPORT (offset 128) and answers a GET_QUOTE_RESP with a mock quote over it. A
/// malformed request gets the QGS's own error response (QGS_MSG_ERROR_INVALID_PARAMETER).
FakeQgsHandler mock_qgs_handler(std::shared_ptr<const attest::mock::MockTdxAttester> service);

class FakeQgs {
 public:
  enum class Transport { Unix, Tcp };

  /// Starts listening (unix: a socket in a fresh temporary directory). Check ok().
  explicit FakeQgs(FakeQgsHandler handler, Transport transport = Transport::Unix);
  ~FakeQgs();
  FakeQgs(const FakeQgs&) = delete;
  FakeQgs& operator=(const FakeQgs&) = delete;

  bool ok() const noexcept { return listener_ >= 0; }
  const std::string& error() const noexcept { return error_; }
  /// "unix:/tmp/.../qgs.sock" or "tcp:127.0.0.1:PORT" (parse_qgs_address syntax).
  const std::string& address() const noexcept { return address_; }

  /// The request messages received, in order.
  std::vector<Bytes> requests() const;
  std::size_t connections() const noexcept { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  FakeQgsHandler handler_;
  std::string directory_;
  std::string address_;
  std::string error_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mutex_;
  std::condition_variable stopping_;
  bool stop_ = false;
  std::vector<Bytes> requests_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace atls::testing
