#include "attest/tdx_gen/qgs_client.h"

// <linux/vm_sockets.h> needs sockaddr from <sys/socket.h> first.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
//
#include <fmt/format.h>
#include <linux/vm_sockets.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>

#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"

namespace atls::attest::tdx_gen {
namespace {

using QgsClock = std::chrono::steady_clock;

std::string qgs_errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Strict decimal u32: digits only, no sign, no overflow.
std::optional<std::uint32_t> qgs_parse_u32(std::string_view text) {
  if (text.empty() || text.size() > 10) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Failure qgs_address_error(std::string_view text, std::string_view why) {
  return tdx_gen_failure(Errc::QgsAddressInvalid, fmt::format("\"{}\": {}", text, why));
}

class QgsSocket {
 public:
  explicit QgsSocket(int fd) noexcept : fd_(fd) {}
  ~QgsSocket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  QgsSocket(QgsSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  QgsSocket& operator=(QgsSocket&&) = delete;
  QgsSocket(const QgsSocket&) = delete;
  QgsSocket& operator=(const QgsSocket&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on `fd` until `deadline`. @return 0 when ready, ETIMEDOUT, or an errno.
int qgs_wait(int fd, short events, QgsClock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - QgsClock::now());
    if (left.count() <= 0) {
      return ETIMEDOUT;
    }
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
    if (ready > 0) {
      return 0;
    }
    if (ready < 0 && errno != EINTR) {
      return errno;
    }
  }
}

Outcome<QgsSocket> qgs_connect(const QgsClientOptions& options) {
  const QgsAddress& address = options.address;
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
  switch (address.family) {
    case QgsAddress::Family::Vsock: {
      sockaddr_vm vm{};
      vm.svm_family = AF_VSOCK;
      vm.svm_cid = address.cid;
      vm.svm_port = address.port;
      std::memcpy(&storage, &vm, sizeof(vm));
      length = sizeof(vm);
      family = AF_VSOCK;
      break;
    }
    case QgsAddress::Family::Unix: {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::memcpy(un.sun_path, address.path.data(),
                  std::min(address.path.size(), sizeof(un.sun_path) - 1));
      std::memcpy(&storage, &un, sizeof(un));
      length = sizeof(un);
      family = AF_UNIX;
      break;
    }
    case QgsAddress::Family::Tcp: {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      in.sin_port = htons(static_cast<std::uint16_t>(address.port));
      if (::inet_pton(AF_INET, address.host.c_str(), &in.sin_addr) != 1) {
        return qgs_address_error(address.to_string(), "not an IPv4 address");
      }
      std::memcpy(&storage, &in, sizeof(in));
      length = sizeof(in);
      family = AF_INET;
      break;
    }
  }
  QgsSocket socket(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.get() < 0) {
    const int error = errno;
    return tdx_gen_failure(
        Errc::QgsConnectFailed,
        fmt::format("{}: socket(): {}", address.to_string(), qgs_errno_text(error)));
  }
  const auto deadline = QgsClock::now() + options.connect_timeout;
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    int error = errno;
    if (error == EINPROGRESS || error == EINTR) {
      error = qgs_wait(socket.get(), POLLOUT, deadline);
      if (error == ETIMEDOUT) {
        return tdx_gen_failure(Errc::QgsTimeout,
                               fmt::format("connect to {}: no answer within {} ms",
                                           address.to_string(), options.connect_timeout.count()));
      }
      if (error == 0) {
        socklen_t size = sizeof(error);
        if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
          error = errno;
        }
      }
    }
    if (error != 0) {
      return tdx_gen_failure(
          Errc::QgsConnectFailed,
          fmt::format("connect to {}: {}", address.to_string(), qgs_errno_text(error)));
    }
  }
  return socket;
}

Outcome<void> qgs_send_all(const QgsSocket& socket, ByteView bytes, QgsClock::time_point deadline,
                           const QgsClientOptions& options) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t written =
        ::send(socket.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (written > 0) {
      sent += static_cast<std::size_t>(written);
      continue;
    }
    const int error = written < 0 ? errno : EPIPE;
    if (error == EINTR) {
      continue;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
      const int waited = qgs_wait(socket.get(), POLLOUT, deadline);
      if (waited == ETIMEDOUT) {
        return tdx_gen_failure(
            Errc::QgsTimeout, fmt::format("{}: request not sent within {} ms",
                                          options.address.to_string(), options.io_timeout.count()));
      }
      if (waited != 0) {
        return tdx_gen_failure(Errc::QgsIoFailed, qgs_errno_text(waited));
      }
      continue;
    }
    return tdx_gen_failure(
        Errc::QgsIoFailed,
        fmt::format("{}: send: {}", options.address.to_string(), qgs_errno_text(error)));
  }
  return {};
}

Outcome<void> qgs_receive_exact(const QgsSocket& socket, std::span<std::uint8_t> out,
                                QgsClock::time_point deadline, const QgsClientOptions& options,
                                std::string_view what) {
  std::size_t received = 0;
  while (received < out.size()) {
    const ssize_t got = ::recv(socket.get(), out.data() + received, out.size() - received, 0);
    if (got > 0) {
      received += static_cast<std::size_t>(got);
      continue;
    }
    if (got == 0) {
      return tdx_gen_failure(Errc::QgsIoFailed,
                             fmt::format("{}: connection closed after {} of {} bytes of the {}",
                                         options.address.to_string(), received, out.size(), what));
    }
    const int error = errno;
    if (error == EINTR) {
      continue;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
      const int waited = qgs_wait(socket.get(), POLLIN, deadline);
      if (waited == ETIMEDOUT) {
        return tdx_gen_failure(Errc::QgsTimeout,
                               fmt::format("{}: {} not received within {} ms ({} of {} bytes)",
                                           options.address.to_string(), what,
                                           options.io_timeout.count(), received, out.size()));
      }
      if (waited != 0) {
        return tdx_gen_failure(Errc::QgsIoFailed, qgs_errno_text(waited));
      }
      continue;
    }
    return tdx_gen_failure(
        Errc::QgsIoFailed,
        fmt::format("{}: recv: {}", options.address.to_string(), qgs_errno_text(error)));
  }
  return {};
}

}  // namespace

std::string QgsAddress::to_string() const {
  switch (family) {
    case Family::Vsock: return fmt::format("vsock:{}:{}", cid, port);
    case Family::Unix: return "unix:" + path;
    case Family::Tcp: return fmt::format("tcp:{}:{}", host, port);
  }
  return {};
}

Outcome<QgsAddress> parse_qgs_address(std::string_view text) {
  QgsAddress address;
  if (text.starts_with("vsock:")) {
    const std::string_view rest = text.substr(6);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return qgs_address_error(text, "expected vsock:CID:PORT");
    }
    const auto cid = qgs_parse_u32(rest.substr(0, colon));
    const auto port = qgs_parse_u32(rest.substr(colon + 1));
    if (!cid || !port) {
      return qgs_address_error(text, "CID and PORT must be decimal numbers below 2^32");
    }
    address.family = QgsAddress::Family::Vsock;
    address.cid = *cid;
    address.port = *port;
    return address;
  }
  if (text.starts_with("unix:")) {
    const std::string_view path = text.substr(5);
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path) ||
        path.find('\0') != std::string_view::npos) {
      return qgs_address_error(
          text, fmt::format("the path must have 1 to {} bytes", sizeof(sockaddr_un::sun_path) - 1));
    }
    address.family = QgsAddress::Family::Unix;
    address.path = std::string(path);
    return address;
  }
  if (text.starts_with("tcp:")) {
    const std::string_view rest = text.substr(4);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return qgs_address_error(text, "expected tcp:IPV4:PORT");
    }
    const std::string host(rest.substr(0, colon));
    in_addr ignored{};
    if (::inet_pton(AF_INET, host.c_str(), &ignored) != 1) {
      return qgs_address_error(text, "the host must be an IPv4 literal");
    }
    const auto port = qgs_parse_u32(rest.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) {
      return qgs_address_error(text, "the port must be 1-65535");
    }
    address.family = QgsAddress::Family::Tcp;
    address.host = host;
    address.port = *port;
    return address;
  }
  return qgs_address_error(text, "expected vsock:CID:PORT, unix:/path or tcp:IPV4:PORT");
}

Outcome<Bytes> qgs_exchange(const QgsClientOptions& options, ByteView request) {
  auto socket = qgs_connect(options);
  if (!socket) {
    return socket.error();
  }
  const auto deadline = QgsClock::now() + options.io_timeout;
  if (auto sent = qgs_send_all(*socket, frame_qgs_message(request), deadline, options); !sent) {
    return sent.error();
  }
  std::array<std::uint8_t, kQgsFrameLengthSize> prefix{};
  if (auto got = qgs_receive_exact(*socket, prefix, deadline, options, "length prefix"); !got) {
    return got.error();
  }
  const std::uint32_t length = read_frame_length(prefix);
  if (length > options.max_response_size) {
    return tdx_gen_failure(
        Errc::QgsResponseTooLarge,
        fmt::format("{} bytes announced, at most {}", length, options.max_response_size));
  }
  Bytes response(length);
  if (auto got = qgs_receive_exact(*socket, response, deadline, options, "response"); !got) {
    return got.error();
  }
  return response;
}

Outcome<Bytes> qgs_get_quote(const QgsClientOptions& options, const TdReport& report) {
  auto response = qgs_exchange(options, encode_get_quote_request(report));
  if (!response) {
    return response.error();
  }
  auto decoded = decode_get_quote_response(*response);
  if (!decoded) {
    return decoded.error();
  }
  return std::move(decoded->quote);
}

}  // namespace atls::attest::tdx_gen
