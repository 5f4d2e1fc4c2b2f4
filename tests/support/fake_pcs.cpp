#include "support/fake_pcs.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/bytes.h"

namespace atls::testing {
namespace {

namespace tdx = attest::tdx;

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string reason(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

/// A PCS signed-document body: {"<key>":<exact text>,"signature":"<hex>"}.
std::string signed_body(const char* key, const std::string& text, const Bytes& signature) {
  return std::string("{\"") + key + "\":" + text + ",\"signature\":\"" + to_hex(signature) + "\"}";
}

void write_all(int fd, const std::string& data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::send(fd, data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string FakePcs::tcb_target(const tdx::Fmspc& fmspc) {
  return "/tdx/certification/v4/tcb?fmspc=" + upper(to_hex(fmspc));
}
std::string FakePcs::qe_target() {
  return "/tdx/certification/v4/qe/identity?update=standard";
}
std::string FakePcs::pck_crl_target(tdx::PckCaType ca) {
  return "/sgx/certification/v4/pckcrl?ca=" + std::string(tdx::to_string(ca)) + "&encoding=der";
}
std::string FakePcs::root_crl_target() {
  return "/sgx/certification/v4/rootcacrl";
}

FakePcs::FakePcs() {
  listen();
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakePcs::~FakePcs() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& thread : connections) {
    thread.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
  if (placeholder_fd_ >= 0) {
    ::close(placeholder_fd_);
  }
}

void FakePcs::listen() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 64) != 0) {
    ADD_FAILURE() << "fake PCS cannot listen on 127.0.0.1:" << port_;
    if (fd >= 0) {
      ::close(fd);
    }
    return;
  }
  socklen_t size = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  port_ = ntohs(address.sin_port);
  listen_fd_ = fd;
}

std::string FakePcs::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FakePcs::accept_loop() {
  while (!stopping_) {
    int fd = -1;
    {
      std::unique_lock lock(mutex_);
      if (refusing_ && listen_fd_ >= 0) {
        // Closed here, by the only thread that polls it: a close() while poll() holds the
        // socket would keep it listening (and accepting into its backlog) until poll returns.
        ::close(listen_fd_.exchange(-1));
        changed_.notify_all();
      }
      fd = listen_fd_;
      if (fd < 0) {
        changed_.wait_for(lock, std::chrono::milliseconds(10));
        continue;
      }
    }
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 10) <= 0) {
      continue;
    }
    const int connection = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) {
      continue;
    }
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, connection] { serve(connection); });
  }
}

void FakePcs::serve(int fd) {
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      ::close(fd);
      return;
    }
    request.append(buffer, static_cast<std::size_t>(n));
  }
  // "GET <target> HTTP/1.1"
  const std::size_t first = request.find(' ');
  const std::size_t second = request.find(' ', first + 1);
  const std::string target = first == std::string::npos || second == std::string::npos
                                 ? std::string()
                                 : request.substr(first + 1, second - first - 1);
  Response response;
  {
    std::unique_lock lock(mutex_);
    ++hits_[target];
    ++total_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !held_ || stopping_; });
    if (failure_) {
      response = *failure_;
    } else if (const auto it = routes_.find(target); it != routes_.end()) {
      response = it->second;
    } else {
      response.status = 404;
    }
  }
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) +
                     "\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    head += name + ": " + value + "\r\n";
  }
  write_all(fd, head + "\r\n" + response.body);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void FakePcs::set_route(const std::string& target, Response response) {
  std::lock_guard lock(mutex_);
  routes_[target] = std::move(response);
}

void FakePcs::serve_collateral(const tdx::CollateralDocuments& documents, const tdx::Fmspc& fmspc,
                               tdx::PckCaType ca, bool v3_tcb_header) {
  set_route(tcb_target(fmspc),
            {200,
             {{v3_tcb_header ? "SGX-TCB-Info-Issuer-Chain" : "TCB-Info-Issuer-Chain",
               url_encode(documents.tcb_info_issuer_chain)},
              {"Content-Type", "application/json"}},
             signed_body("tcbInfo", documents.tcb_info, documents.tcb_info_signature)});
  set_route(
      qe_target(),
      {200,
       {{"SGX-Enclave-Identity-Issuer-Chain", url_encode(documents.qe_identity_issuer_chain)},
        {"Content-Type", "application/json"}},
       signed_body("enclaveIdentity", documents.qe_identity, documents.qe_identity_signature)});
  set_route(pck_crl_target(ca),
            {200,
             {{"SGX-PCK-CRL-Issuer-Chain", url_encode(documents.pck_crl_issuer_chain)},
              {"Content-Type", "application/pkix-crl"}},
             std::string(documents.pck_crl.begin(), documents.pck_crl.end())});
  // PCCS serves the root CA CRL hex-encoded (interop §5.2 step 2).
  set_route(root_crl_target(), {200, {}, to_hex(documents.root_ca_crl)});
}

void FakePcs::fail_with(unsigned status, std::optional<std::string> retry_after) {
  std::lock_guard lock(mutex_);
  Response response;
  response.status = status;
  if (retry_after) {
    response.headers.emplace_back("Retry-After", *retry_after);
  }
  failure_ = std::move(response);
}

void FakePcs::refuse_connections() {
  std::unique_lock lock(mutex_);
  refusing_ = true;
  changed_.notify_all();
  changed_.wait(lock, [this] { return listen_fd_ < 0; });
  // Keep the port bound but not listening: a SYN to it is answered with RST (ECONNREFUSED), and
  // the port cannot become a client's ephemeral source port (which would make the client
  // connect to itself).
  placeholder_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(placeholder_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(placeholder_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ADD_FAILURE() << "fake PCS cannot keep port " << port_ << " reserved: " << std::strerror(errno);
  }
}

void FakePcs::recover() {
  std::lock_guard lock(mutex_);
  failure_.reset();
  refusing_ = false;
  if (placeholder_fd_ >= 0) {
    ::close(placeholder_fd_);
    placeholder_fd_ = -1;
  }
  if (listen_fd_ < 0) {
    listen();
  }
  changed_.notify_all();
}

void FakePcs::hold(bool held) {
  std::lock_guard lock(mutex_);
  held_ = held;
  changed_.notify_all();
}

void FakePcs::wait_for_requests(std::size_t count) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::seconds(30), [&] { return total_ >= count; })) {
    ADD_FAILURE() << "fake PCS: expected " << count << " requests, got " << total_;
  }
}

std::size_t FakePcs::hits(const std::string& target) const {
  std::lock_guard lock(mutex_);
  const auto it = hits_.find(target);
  return it == hits_.end() ? 0 : it->second;
}

std::size_t FakePcs::total_hits() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace atls::testing
