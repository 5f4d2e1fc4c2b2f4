#include "support/fake_kds.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace atls::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using attest::snp::Product;
using attest::snp::Signer;
using boost::asio::ip::tcp;

std::string family(Signer kind) {
  return kind == Signer::Vcek ? "vcek" : "vlek";
}

std::string vcek_key(const std::string& product, const std::string& hw_id_hex, unsigned bl,
                     unsigned tee, unsigned snp, unsigned ucode, int fmc) {
  std::string key = product + "/" + hw_id_hex + "/" + std::to_string(bl) + "/" +
                    std::to_string(tee) + "/" + std::to_string(snp) + "/" + std::to_string(ucode);
  if (fmc >= 0) {
    key += "/" + std::to_string(fmc);
  }
  return key;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> params;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos) {
      end = query.size();
    }
    const std::string pair = query.substr(start, end - start);
    const auto equals = pair.find('=');
    if (equals != std::string::npos) {
      params[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    start = end + 1;
  }
  return params;
}

std::optional<unsigned> decimal(const std::map<std::string, std::string>& params,
                                const std::string& name) {
  const auto found = params.find(name);
  if (found == params.end() || found->second.empty() || found->second.size() > 3) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : found->second) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 255 ? std::optional<unsigned>(value) : std::nullopt;
}

FakeHttpResponse status(unsigned code, std::string body = {}) {
  FakeHttpResponse response;
  response.status = code;
  response.body = std::move(body);
  return response;
}

}  // namespace

FakeKds::FakeKds() : acceptor_(io_) {
  boost::system::error_code ec;
  acceptor_.open(tcp::v4(), ec);
  if (!ec) {
    acceptor_.bind(tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0), ec);
  }
  if (!ec) {
    acceptor_.listen(16, ec);
  }
  if (ec) {
    error_ = "fake KDS: " + ec.message();
    return;
  }
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { serve(); });
}

FakeKds::~FakeKds() {
  stopping_ = true;
  release();
  if (thread_.joinable()) {
    // Wake the blocking accept with a connection of our own.
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_), ec);
    thread_.join();
  }
}

std::string FakeKds::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FakeKds::add_vcek(Product product, ByteView hw_id, const attest::snp::TcbVersion& tcb,
                       Bytes der) {
  std::lock_guard lock(mutex_);
  vceks_[vcek_key(std::string(to_string(product)), to_hex(hw_id), tcb.bootloader, tcb.tee, tcb.snp,
                  tcb.microcode, product == Product::Turin ? tcb.fmc.value_or(0) : -1)] =
      std::move(der);
}

void FakeKds::set_cert_chain(Product product, Signer kind, std::string pem) {
  std::lock_guard lock(mutex_);
  chains_["/" + family(kind) + "/v1/" + std::string(to_string(product)) + "/cert_chain"] =
      std::move(pem);
}

void FakeKds::set_crl(Product product, Signer kind, Bytes der) {
  std::lock_guard lock(mutex_);
  crls_["/" + family(kind) + "/v1/" + std::string(to_string(product)) + "/crl"] = std::move(der);
}

void FakeKds::set_route(const std::string& target, FakeHttpResponse response) {
  std::lock_guard lock(mutex_);
  routes_[target] = std::move(response);
}

void FakeKds::fail_next(unsigned count, FakeHttpResponse response) {
  std::lock_guard lock(mutex_);
  for (unsigned i = 0; i < count; ++i) {
    failures_.push_back(response);
  }
}

void FakeKds::hold() {
  std::lock_guard lock(mutex_);
  holding_ = true;
}

void FakeKds::release() {
  {
    std::lock_guard lock(mutex_);
    holding_ = false;
  }
  hold_cv_.notify_all();
}

std::size_t FakeKds::request_count() const {
  std::lock_guard lock(mutex_);
  return targets_.size();
}

std::vector<std::string> FakeKds::targets() const {
  std::lock_guard lock(mutex_);
  return targets_;
}

std::size_t FakeKds::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

void FakeKds::serve() {
  for (;;) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (stopping_) {
      return;
    }
    if (ec) {
      continue;
    }
    beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) {
      continue;
    }
    const FakeHttpResponse reply = answer(std::string(request.target()));
    if (reply.drop_connection) {
      socket.close(ec);
      continue;
    }
    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    for (const auto& [name, value] : reply.headers) {
      response.set(name, value);
    }
    response.body() = reply.body;
    response.keep_alive(false);
    response.prepare_payload();
    http::write(socket, response, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
}

FakeHttpResponse FakeKds::answer(const std::string& target) {
  std::unique_lock lock(mutex_);
  targets_.push_back(target);
  ++held_;
  hold_cv_.wait(lock, [this] { return !holding_ || stopping_; });
  --held_;
  if (!failures_.empty()) {
    FakeHttpResponse failure = failures_.front();
    failures_.pop_front();
    return failure;
  }
  return route(target);
}

FakeHttpResponse FakeKds::route(const std::string& target) {
  if (const auto found = routes_.find(target); found != routes_.end()) {
    return found->second;
  }
  const auto question = target.find('?');
  const std::string path = target.substr(0, question);
  if (const auto chain = chains_.find(path); chain != chains_.end()) {
    return status(200, chain->second);
  }
  if (const auto crl = crls_.find(path); crl != crls_.end()) {
    return status(200, std::string(crl->second.begin(), crl->second.end()));
  }
  // /vcek/v1/{product}/{hwid}
  constexpr std::string_view kPrefix = "/vcek/v1/";
  if (!path.starts_with(kPrefix)) {
    return status(404);
  }
  const std::string rest = path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) {
    return status(404);
  }
  const std::string product = rest.substr(0, slash);
  const std::string hw_id = rest.substr(slash + 1);
  if (hw_id == "cert_chain" || hw_id == "crl") {
    return status(404);  // a chain or CRL the test did not register
  }
  const auto params =
      parse_query(question == std::string::npos ? std::string() : target.substr(question + 1));
  const auto bl = decimal(params, "blSPL");
  const auto tee = decimal(params, "teeSPL");
  const auto snp = decimal(params, "snpSPL");
  const auto ucode = decimal(params, "ucodeSPL");
  const auto fmc = decimal(params, "fmcSPL");
  const bool turin = product == "Turin";
  if (!bl || !tee || !snp || !ucode || (turin && !fmc)) {
    return status(400, "missing SPL parameters");
  }
  const auto vcek = vceks_.find(
      vcek_key(product, hw_id, *bl, *tee, *snp, *ucode, turin ? static_cast<int>(*fmc) : -1));
  if (vcek == vceks_.end()) {
    return status(404);
  }
  FakeHttpResponse response = status(200, std::string(vcek->second.begin(), vcek->second.end()));
  response.headers.emplace_back("Content-Type", "application/octet-stream");
  return response;
}

}  // namespace atls::testing
