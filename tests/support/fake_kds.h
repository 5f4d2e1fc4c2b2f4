#pragma once
// A fake AMD KDS (docs/verification.md §2.4) for tests: an HTTP/1.1 server on 127.0.0.1 and
// an ephemeral port, in-process, serving VCEKs, certificate chains and CRLs that the test
// registers (e.g. from the INSECURE MOCK SNP PKI). It parses each request itself
// (product, hwID, blSPL/teeSPL/snpSPL/ucodeSPL and, for Turin, fmcSPL) so that a VCEK is
// found only under a correctly built URL; anything unknown is a 404, a VCEK request without
// its SPLs a 400. It can be told to answer the next requests with 429/503/500 (with or
// without Retry-After), to drop connections, or to hold requests until released.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "attest/snp/report.h"
#include "attest/snp/snp_claims.h"
#include "core/bytes.h"

namespace atls::testing {

struct FakeHttpResponse {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Close the connection without answering (a transport failure for the client).
  bool drop_connection = false;
};

class FakeKds final {
 public:
  FakeKds();
  ~FakeKds();
  FakeKds(const FakeKds&) = delete;
  FakeKds& operator=(const FakeKds&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  /// "http://127.0.0.1:<port>"
  std::string base_url() const;

  /// Serves `der` at /vcek/v1/{product}/{hex hw_id}?..SPL.. for exactly these SPLs.
  void add_vcek(attest::snp::Product product, ByteView hw_id, const attest::snp::TcbVersion& tcb,
                Bytes der);
  void set_cert_chain(attest::snp::Product product, attest::snp::Signer kind, std::string pem);
  void set_crl(attest::snp::Product product, attest::snp::Signer kind, Bytes der);
  /// Serves `response` for any request of `path` (and query), before the built-in routes.
  void set_route(const std::string& target, FakeHttpResponse response);

  /// The next `count` requests get `response` instead of their normal answer.
  void fail_next(unsigned count, FakeHttpResponse response);
  /// Requests wait (before being answered) until release().
  void hold();
  void release();

  std::size_t request_count() const;
  std::vector<std::string> targets() const;
  /// Requests currently waiting in hold().
  std::size_t held() const;

 private:
  void serve();
  FakeHttpResponse answer(const std::string& target);
  FakeHttpResponse route(const std::string& target);

  std::string error_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::condition_variable hold_cv_;
  bool holding_ = false;
  std::size_t held_ = 0;
  std::map<std::string, Bytes> vceks_;  // "Milan/<hex>/bl/tee/snp/ucode[/fmc]"
  std::map<std::string, std::string> chains_;
  std::map<std::string, Bytes> crls_;
  std::map<std::string, FakeHttpResponse> routes_;
  std::deque<FakeHttpResponse> failures_;
  std::vector<std::string> targets_;
  std::thread thread_;
};

}  // namespace atls::testing
