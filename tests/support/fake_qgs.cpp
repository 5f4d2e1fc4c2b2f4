#include "support/fake_qgs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"
#include "attest/tdx_gen/tdx_guest_device.h"

namespace atls::testing {
namespace {

namespace tdx_gen = attest::tdx_gen;

constexpr std::uint32_t kQgsMsgErrorInvalidParameter = 0x12003;
constexpr std::size_t kMaxRequest = 1 << 20;

bool read_exact(int fd, std::uint8_t* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::recv(fd, data + done, size - done, 0);
    if (got > 0) {
      done += static_cast<std::size_t>(got);
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

void write_all(int fd, const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t put = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (put > 0) {
      done += static_cast<std::size_t>(put);
    } else if (put < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

}  // namespace

FakeQgsHandler mock_qgs_handler(std::shared_ptr<const attest::mock::MockTdxAttester> service) {
  return [service = std::move(service)](const Bytes& request) {
    FakeQgsReply reply;
    auto report = tdx_gen::decode_get_quote_request(request);
    if (!report || report->size() != tdx_gen::kTdReportSize) {
      reply.message = tdx_gen::encode_get_quote_response({}, {}, kQgsMsgErrorInvalidParameter);
      return reply;
    }
    attest::ReportData data{};
    std::copy_n(report->begin() + tdx_gen::kTdReportDataOffset, data.size(), data.begin());
    auto quote = service->generate(data);
    if (!quote) {
      reply.message = tdx_gen::encode_get_quote_response({}, {}, 0x12001);
      return reply;
    }
    reply.message = tdx_gen::encode_get_quote_response(*quote);
    return reply;
  };
}

FakeQgs::FakeQgs(FakeQgsHandler handler, Transport transport) : handler_(std::move(handler)) {
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    error_ = "pipe2 failed";
    return;
  }
  int fd = -1;
  if (transport == Transport::Unix) {
    std::string pattern = (std::filesystem::temp_directory_path() / "atls-qgs-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    directory_ = pattern;
    const std::string path = directory_ + "/qgs.sock";
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      error_ = std::string("bind ") + path + ": " + std::strerror(errno);
      if (fd >= 0) {
        ::close(fd);
      }
      return;
    }
    address_ = "unix:" + path;
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t length = sizeof(address);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      error_ = std::string("bind 127.0.0.1: ") + std::strerror(errno);
      if (fd >= 0) {
        ::close(fd);
      }
      return;
    }
    address_ = "tcp:127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  if (::listen(fd, 16) != 0) {
    error_ = std::string("listen: ") + std::strerror(errno);
    ::close(fd);
    return;
  }
  listener_ = fd;
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeQgs::~FakeQgs() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopping_.notify_all();
  if (wake_[1] >= 0) {
    const char byte = 0;
    [[maybe_unused]] const auto ignored = ::write(wake_[1], &byte, 1);
  }
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) {
    worker.join();
  }
  for (const int fd : {listener_, wake_[0], wake_[1]}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

std::vector<Bytes> FakeQgs::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void FakeQgs::accept_loop() {
  for (;;) {
    pollfd entries[2] = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(entries, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (entries[1].revents != 0) {
      return;
    }
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ++connections_;
    std::lock_guard lock(mutex_);
    if (stop_) {
      ::close(fd);
      return;
    }
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeQgs::serve(int fd) {
  // A client that never sends must not keep the worker (and the destructor) forever.
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::array<std::uint8_t, tdx_gen::kQgsFrameLengthSize> prefix{};
  if (!read_exact(fd, prefix.data(), prefix.size())) {
    ::close(fd);
    return;
  }
  const std::uint32_t length = tdx_gen::read_frame_length(prefix);
  if (length > kMaxRequest) {
    ::close(fd);
    return;
  }
  Bytes request(length);
  if (!read_exact(fd, request.data(), request.size())) {
    ::close(fd);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }
  const FakeQgsReply reply = handler_(request);
  if (reply.delay.count() > 0) {
    std::unique_lock lock(mutex_);
    stopping_.wait_for(lock, reply.delay, [this] { return stop_; });
  }
  if (!reply.close_without_reply) {
    write_all(fd, reply.raw ? *reply.raw : tdx_gen::frame_qgs_message(reply.message));
  }
  ::close(fd);
}

}  // namespace atls::testing
