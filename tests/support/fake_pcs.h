#pragma once
// A fake Intel PCS / PCCS for tests: a plain-HTTP server on 127.0.0.1 (ephemeral port) in this
// process, serving collateral in the PCS v4 shapes (verification.md §1.5: JSON bodies, DER
// CRLs, URL-encoded issuer-chain headers, the PCCS hex root CA CRL), and switchable to fail
// (a status such as 500 or 429 with Retry-After, or connection refused) and to recover.
// Requests are counted per target so that tests can assert what went over the wire.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "attest/tdx/collateral.h"
#include "attest/tdx/pck_extension.h"

namespace atls::testing {

class FakePcs {
 public:
  struct Response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  FakePcs();
  ~FakePcs();
  FakePcs(const FakePcs&) = delete;
  FakePcs& operator=(const FakePcs&) = delete;

  /// "http://127.0.0.1:<port>"
  std::string base_url() const;

  /// Serves `response` for the exact request target (path and query).
  void set_route(const std::string& target, Response response);
  /// Serves a collateral bundle for (FMSPC, CA) at the PCS v4 paths (plus PCCS /rootcacrl).
  /// `v3_tcb_header`: send SGX-TCB-Info-Issuer-Chain instead of TCB-Info-Issuer-Chain.
  void serve_collateral(const attest::tdx::CollateralDocuments& documents,
                        const attest::tdx::Fmspc& fmspc, attest::tdx::PckCaType ca,
                        bool v3_tcb_header = false);

  /// Every request fails with `status` (and Retry-After when given).
  void fail_with(unsigned status, std::optional<std::string> retry_after = std::nullopt);
  /// Connections are refused (the port stays bound but stops listening).
  void refuse_connections();
  /// Back to serving routes (re-listens on the same port after refuse_connections()).
  void recover();
  /// While held, requests are received (and counted) but not answered.
  void hold(bool held);
  /// Blocks until at least `count` requests have been received in total.
  void wait_for_requests(std::size_t count);

  /// Requests received for `target` (path and query), or for all targets.
  std::size_t hits(const std::string& target) const;
  std::size_t total_hits() const;

  static std::string tcb_target(const attest::tdx::Fmspc& fmspc);
  static std::string qe_target();
  static std::string pck_crl_target(attest::tdx::PckCaType ca);
  static std::string root_crl_target();

 private:
  void listen();
  void accept_loop();
  void serve(int fd);

  std::uint16_t port_ = 0;
  std::atomic<int> listen_fd_{-1};
  int placeholder_fd_ = -1;
  bool refusing_ = false;  ///< the port, bound but not listening, while refusing
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Response> routes_;
  std::optional<Response> failure_;
  bool held_ = false;
  std::map<std::string, std::size_t> hits_;
  std::size_t total_ = 0;
  std::vector<std::thread> connections_;
};

/// Percent-encodes everything but RFC 3986 unreserved characters (how PCS sends PEM chains in
/// headers).
std::string url_encode(std::string_view text);

}  // namespace atls::testing
