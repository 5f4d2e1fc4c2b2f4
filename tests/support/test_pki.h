#pragma once
// Certificates minted at test time (no key material is committed).

#include <chrono>
#include <string>
#include <vector>

#include "tls/certificate_builder.h"
#include "tls/credentials.h"

namespace atls::testing {

struct TestCa {
  tls::X509Ptr cert;
  tls::EvpPkeyPtr key;
};

/// A self-signed CA.
TestCa make_test_ca(const std::string& name,
                    tls::KeyAlgorithm algorithm = tls::KeyAlgorithm::EcP256);

/// A leaf for `dns_names`/`ips` issued by `ca`; chain = [leaf].
tls::Credentials make_leaf(const TestCa& ca, const std::string& common_name,
                           std::vector<std::string> dns_names, std::vector<std::string> ips,
                           tls::KeyAlgorithm algorithm = tls::KeyAlgorithm::EcP256);

/// A fresh copy of `ca`'s certificate as a one-element anchor list.
std::vector<tls::X509Ptr> anchors(const TestCa& ca);

/// Deep copy of credentials (the chain certificates are shared by reference count).
tls::Credentials copy(const tls::Credentials& credentials);

}  // namespace atls::testing
