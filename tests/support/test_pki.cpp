#include "support/test_pki.h"

#include <stdexcept>

namespace atls::testing {
namespace {

tls::CertificateSpec spec_now(const std::string& common_name) {
  tls::CertificateSpec spec;
  spec.common_name = common_name;
  const auto now = std::chrono::system_clock::now();
  spec.not_before = now - std::chrono::hours(1);
  spec.not_after = now + std::chrono::hours(24);
  return spec;
}

}  // namespace

TestCa make_test_ca(const std::string& name, tls::KeyAlgorithm algorithm) {
  auto key = tls::generate_key(algorithm);
  if (!key) {
    throw std::runtime_error(key.error().describe());
  }
  auto spec = spec_now(name);
  spec.is_ca = true;
  auto cert = tls::issue_certificate(spec, key->get(), nullptr, nullptr);
  if (!cert) {
    throw std::runtime_error(cert.error().describe());
  }
  return TestCa{std::move(*cert), std::move(*key)};
}

tls::Credentials make_leaf(const TestCa& ca, const std::string& common_name,
                           std::vector<std::string> dns_names, std::vector<std::string> ips,
                           tls::KeyAlgorithm algorithm) {
  auto key = tls::generate_key(algorithm);
  if (!key) {
    throw std::runtime_error(key.error().describe());
  }
  auto spec = spec_now(common_name);
  spec.dns_names = std::move(dns_names);
  spec.ip_addresses = std::move(ips);
  auto cert = tls::issue_certificate(spec, key->get(), ca.cert.get(), ca.key.get());
  if (!cert) {
    throw std::runtime_error(cert.error().describe());
  }
  tls::Credentials out;
  out.chain.push_back(std::move(*cert));
  out.key = std::move(*key);
  return out;
}

std::vector<tls::X509Ptr> anchors(const TestCa& ca) {
  std::vector<tls::X509Ptr> out;
  out.push_back(tls::share(ca.cert.get()));
  return out;
}

tls::Credentials copy(const tls::Credentials& credentials) {
  tls::Credentials out;
  for (const auto& cert : credentials.chain) {
    out.chain.push_back(tls::share(cert.get()));
  }
  EVP_PKEY_up_ref(credentials.key.get());
  out.key.reset(credentials.key.get());
  return out;
}

}  // namespace atls::testing
