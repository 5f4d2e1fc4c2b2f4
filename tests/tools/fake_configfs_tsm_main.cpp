// A stand-alone fake configfs-tsm for the integration tests: runs the in-process fake of
// tests/support/fake_configfs_tsm.h in its own process, so that a real atls-proxy started with
// ATLS_TSM_REPORT_ROOT=<base>/report generates "TEE" evidence through its production
// configfs-tsm client. The "firmware" behind it is the INSECURE mock TEE of a directory made by
// `atls-proxy mock-tee init` (attest/mock/mock_tee.h): tdx_guest answers with mock DCAP quotes,
// sev_guest with a mock attestation report (outblob) and the host certificate table (auxblob).
//
//   fake_configfs_tsm BASE MOCK_TEE_DIR [tdx_guest|sev_guest]
//
// Prints "fake configfs-tsm ready: <report root>" once serving; stops on SIGTERM/SIGINT.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "attest/mock/mock_tee.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/evidence.h"
#include "support/fake_configfs_tsm.h"

namespace {

using atls::Bytes;
using atls::attest::AttestationType;
using atls::attest::ReportData;
using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;

ReportData report_data_of(const FakeTsmRequest& request) {
  ReportData data{};
  std::copy_n(request.inblob.begin(), std::min(request.inblob.size(), data.size()), data.begin());
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: fake_configfs_tsm BASE MOCK_TEE_DIR [tdx_guest|sev_guest]\n";
    return 2;
  }
  const std::string provider = argc == 4 ? argv[3] : "tdx_guest";
  if (provider != "tdx_guest" && provider != "sev_guest") {
    std::cerr << "unknown provider " << provider << "\n";
    return 2;
  }
  const bool snp = provider == "sev_guest";
  auto attester = atls::attest::mock::make_mock_attester(
      argv[2], snp ? AttestationType::SevSnp : AttestationType::DcapTdx);
  if (!attester) {
    std::cerr << attester.error().describe() << "\n";
    return 1;
  }

  // Block the stop signals before the fake's thread starts (it inherits the mask), then wait
  // for one here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  FakeConfigfsTsmOptions options;
  options.provider = provider;
  options.privlevel = snp;  // tdx_guest has neither privlevel nor auxblob
  options.auxblob = snp;
  FakeConfigfsTsm fake(
      argv[1],
      [attester = *attester, snp](const FakeTsmRequest& request) {
        FakeTsmResponse response;
        // Both providers take exactly 64 bytes (tdx_report_new, sev_report_new); a mock SNP
        // chip reports at VMPL0 only.
        if (request.inblob.size() != 64 || request.privlevel.value_or(0) != 0) {
          response.read_error = true;
          return response;
        }
        auto evidence = attester->generate(report_data_of(request));
        if (!evidence) {
          response.read_error = true;
          return response;
        }
        if (!snp) {
          response.outblob = std::move(*evidence);
          return response;
        }
        // The mock's evidence is docs/protocol.md §7; the kernel hands out its two parts.
        auto decoded = atls::attest::snp::decode_evidence(*evidence);
        if (!decoded) {
          response.read_error = true;
          return response;
        }
        response.outblob = std::move(decoded->report);
        response.auxblob = atls::attest::snp::encode_cert_table(decoded->certificates);
        return response;
      },
      options);
  if (!fake.ok()) {
    std::cerr << "fake configfs-tsm: " << fake.error() << "\n";
    return 1;
  }
  std::cout << "fake configfs-tsm ready: " << fake.root().string() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cout << "fake configfs-tsm: " << fake.entries_created() << " entries, "
            << fake.requests().size() << " reports" << std::endl;
  return 0;
}
