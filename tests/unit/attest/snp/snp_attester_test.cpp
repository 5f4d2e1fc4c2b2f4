// SnpAttester end to end: evidence generated through the fake configfs-tsm
// (tests/support/fake_configfs_tsm.h) and the fake /dev/sev-guest (fake_sev_guest.h), both
// "signed" by the INSECURE MOCK SNP firmware, then verified by the production SnpVerifier that
// trusts the mock anchors. Also the failure of every generation step and `auto` detection.
#include "attest/snp/snp_attester.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "attest/mock/snp_mock.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/report.h"
#include "attest/tsm/errors.h"
#include "support/fake_configfs_tsm.h"
#include "support/fake_sev_guest.h"
#include "support/process.h"

namespace atls::attest::snp {
namespace {

using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakeSevGuestDevice;
using atls::testing::FakeSevGuestRequest;
using atls::testing::FakeSevGuestResponse;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;
using mock::MockSnpAttester;
using mock::MockSnpPki;

const SystemTime kNow = std::chrono::sys_days(std::chrono::year(2025) / 3 / 1);

std::shared_ptr<const MockSnpPki> pki() {
  auto shared = MockSnpPki::shared();
  EXPECT_TRUE(shared) << (shared ? "" : shared.error().describe());
  return shared ? *shared : nullptr;
}

ReportData binding(std::uint8_t seed) {
  ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(std::size_t{seed} * 3 + i);
  }
  return data;
}

// The INSECURE MOCK "firmware and host": one mock chip per VMPL, each with its own VCEK, and
// the host's certificate table (VCEK, ASK, ARK).
class MockFirmware {
 public:
  std::shared_ptr<MockSnpAttester> chip(std::uint32_t vmpl) {
    std::lock_guard lock(mutex_);
    auto& attester = chips_[vmpl];
    if (!attester) {
      mock::MockSnpConfig config;
      config.vmpl = vmpl;
      auto created = MockSnpAttester::create(pki(), config);
      EXPECT_TRUE(created);
      attester = created ? *created : nullptr;
    }
    return attester;
  }

  Bytes report(const ReportData& data, std::uint32_t vmpl) {
    auto report = chip(vmpl)->generate_report(data);
    EXPECT_TRUE(report);
    return report ? *report : Bytes{};
  }

  Bytes cert_table(std::uint32_t vmpl) {
    CertTable table;
    table.entries.push_back({guids::vcek(), chip(vmpl)->leaf_der()});
    table.entries.push_back({guids::ask(), pki()->ask_der()});
    table.entries.push_back({guids::ark(), pki()->ark_der()});
    return encode_cert_table(table);
  }

  // configfs-tsm provider "sev_guest" (sev_report_new(): exactly 64 bytes of inblob).
  FakeTsmResponse tsm(const FakeTsmRequest& request, bool certificates = true) {
    FakeTsmResponse response;
    if (request.inblob.size() != 64) {
      response.read_error = true;
      return response;
    }
    ReportData data{};
    std::copy(request.inblob.begin(), request.inblob.end(), data.begin());
    const std::uint32_t vmpl = request.privlevel.value_or(0);
    response.outblob = report(data, vmpl);
    if (certificates) {
      response.auxblob = cert_table(vmpl);
    }
    return response;
  }

  FakeSevGuestResponse device(const FakeSevGuestRequest& request) {
    FakeSevGuestResponse response;
    response.report = report(request.user_data, request.vmpl);
    response.cert_table = cert_table(request.vmpl);
    return response;
  }

 private:
  std::mutex mutex_;
  std::map<std::uint32_t, std::shared_ptr<MockSnpAttester>> chips_;
};

std::string outcome(const Outcome<Bytes>& result) {
  return result ? "ok" : error_id(result.error().code);
}

class SnpAttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki());
    verifier_ = mock::make_insecure_mock_snp_verifier(*pki());
  }

  void start_tsm(std::function<FakeTsmResponse(const FakeTsmRequest&)> generator = nullptr,
                 FakeConfigfsTsmOptions options = {}) {
    if (!generator) {
      generator = [this](const FakeTsmRequest& request) { return firmware_.tsm(request); };
    }
    fake_ = std::make_unique<FakeConfigfsTsm>(dir_.path(), std::move(generator), options);
    ASSERT_TRUE(fake_->ok()) << fake_->error();
  }

  std::shared_ptr<FakeSevGuestDevice> device() {
    return std::make_shared<FakeSevGuestDevice>(
        [this](const FakeSevGuestRequest& request) { return firmware_.device(request); });
  }

  SnpAttesterOptions options(SnpBackend backend = SnpBackend::Auto) const {
    SnpAttesterOptions o;
    o.backend = backend;
    o.tsm.root = fake_ ? fake_->root() : std::filesystem::path(dir_.path()) / "no-tsm";
    o.device_path = std::filesystem::path(dir_.path()) / "no-sev-guest";
    o.busy_delay = std::chrono::milliseconds(1);
    return o;
  }

  std::shared_ptr<SnpAttester> make(SnpAttesterOptions o) {
    auto created = SnpAttester::create(std::move(o));
    EXPECT_TRUE(created) << (created ? "" : created.error().describe());
    return created ? *created : nullptr;
  }

  // Verifies with the production verifier (mock anchors) and returns the claims' VMPL.
  void expect_verifies(const Bytes& evidence, const ReportData& data, std::uint32_t vmpl = 0,
                       AttestationType type = AttestationType::SevSnp,
                       CertificateSourcePtr source = nullptr) {
    const auto verifier =
        source ? mock::make_insecure_mock_snp_verifier(*pki(), std::move(source)) : verifier_;
    const auto claims = verifier->verify_evidence(type, evidence, data, kNow);
    ASSERT_TRUE(claims) << claims.error().describe();
    EXPECT_EQ(claims->report_data, data);
    ASSERT_TRUE(claims->snp);
    EXPECT_EQ(claims->snp->vmpl, vmpl);
  }

  atls::testing::TempDir dir_;
  MockFirmware firmware_;
  std::unique_ptr<FakeConfigfsTsm> fake_;
  std::shared_ptr<const SnpVerifier> verifier_;
};

TEST_F(SnpAttesterTest, ConfigfsTsmEvidenceVerifies) {
  start_tsm();
  const auto attester = make(options());
  ASSERT_TRUE(attester);
  EXPECT_EQ(attester->type(), AttestationType::SevSnp);
  const auto evidence = attester->generate_evidence(binding(1));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  expect_verifies(*evidence, binding(1));
  // The evidence carries the host's table, canonically encoded.
  auto decoded = decode_evidence(*evidence);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->certificates.entries.size(), 3U);
  EXPECT_NE(decoded->certificates.find(guids::vcek()), nullptr);
  // Another binding, another report; a wrong expectation fails verification.
  const auto second = attester->generate(binding(2));
  ASSERT_TRUE(second);
  expect_verifies(*second, binding(2));
  EXPECT_EQ(error_id(verifier_->verify(AttestationType::SevSnp, *second, binding(1), kNow).error()),
            "snp.report_data_mismatch");
  // privlevel was written (0) and no entry is left behind.
  const auto requests = fake_->requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].privlevel, 0U);
  EXPECT_TRUE(std::filesystem::is_empty(fake_->root()));
}

TEST_F(SnpAttesterTest, ConfigfsTsmAtVmpl2) {
  start_tsm();
  auto o = options(SnpBackend::ConfigfsTsm);
  o.vmpl = 2;
  const auto attester = make(o);
  const auto evidence = attester->generate_evidence(binding(3));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  expect_verifies(*evidence, binding(3), 2);
}

TEST_F(SnpAttesterTest, PrivlevelBelowFloorIsNamed) {
  FakeConfigfsTsmOptions fake_options;
  fake_options.privlevel_floor = 1;  // the guest runs at VMPL1 (vmpck_id 1)
  start_tsm(nullptr, fake_options);
  const auto attester = make(options());
  EXPECT_EQ(outcome(attester->generate_evidence(binding(1))), "tsm.privlevel_below_floor");
}

TEST_F(SnpAttesterTest, GcpSnpType) {
  start_tsm();
  auto o = options();
  o.type = AttestationType::GcpSnp;
  const auto attester = make(o);
  EXPECT_EQ(attester->type(), AttestationType::GcpSnp);
  const auto evidence = attester->generate(binding(4));
  ASSERT_TRUE(evidence);
  expect_verifies(*evidence, binding(4), 0, AttestationType::GcpSnp);
}

TEST_F(SnpAttesterTest, HostWithoutCertificates) {
  start_tsm([this](const FakeTsmRequest& request) { return firmware_.tsm(request, false); });
  const auto attester = make(options());
  const auto evidence = attester->generate_evidence(binding(5));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  auto decoded = decode_evidence(*evidence);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->certificates.empty());
  const auto without_source =
      verifier_->verify_evidence(AttestationType::SevSnp, *evidence, binding(5), kNow);
  ASSERT_FALSE(without_source);
  EXPECT_EQ(error_id(without_source.error().code), "snp.certificate_missing");
  // With the VCEK in a certificate source (what the KDS cache provides) it verifies.
  auto source = std::make_shared<InMemoryCertificateSource>();
  VcekQuery query;
  query.product = Product::Milan;
  query.chip_id = firmware_.chip(0)->config().chip_id;
  query.reported_tcb =
      decode_tcb(encode_tcb(firmware_.chip(0)->config().tcb, Product::Milan), Product::Milan);
  source->add(query, firmware_.chip(0)->leaf_der());
  expect_verifies(*evidence, binding(5), 0, AttestationType::SevSnp, source);
}

TEST_F(SnpAttesterTest, CertificatesCanBeLeftOut) {
  start_tsm();
  auto o = options();
  o.include_certificates = false;
  const auto evidence = make(o)->generate_evidence(binding(6));
  ASSERT_TRUE(evidence);
  auto decoded = decode_evidence(*evidence);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->certificates.empty());
}

TEST_F(SnpAttesterTest, PagePaddedAuxblobIsCanonicalised) {
  start_tsm([this](const FakeTsmRequest& request) {
    FakeTsmResponse response = firmware_.tsm(request);
    response.auxblob.resize(std::size_t{3} * 4096, 0);
    return response;
  });
  const auto evidence = make(options())->generate_evidence(binding(7));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  EXPECT_EQ(evidence->size(), kEvidenceHeaderSize + kReportSize + firmware_.cert_table(0).size());
  expect_verifies(*evidence, binding(7));
}

TEST_F(SnpAttesterTest, HostileHostOutputIsRefused) {
  // A certificate table with garbage in its padding.
  start_tsm([this](const FakeTsmRequest& request) {
    FakeTsmResponse response = firmware_.tsm(request);
    response.auxblob.push_back(0x01);
    return response;
  });
  const auto attester = make(options());
  const auto result = attester->generate_evidence(binding(1));
  EXPECT_EQ(outcome(result), "snp.generated_cert_table_invalid");
  EXPECT_EQ(result.error().detail, "snp.cert_table_padding_nonzero");
}

TEST_F(SnpAttesterTest, ReportForOtherDataOrVmplIsRefused) {
  start_tsm([this](const FakeTsmRequest& request) {
    FakeTsmResponse response;
    response.outblob = firmware_.report(binding(99), request.privlevel.value_or(0));
    return response;
  });
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(1))),
            "snp.generated_report_data_mismatch");

  start_tsm([this](const FakeTsmRequest& request) {
    FakeTsmResponse response;
    ReportData data{};
    std::copy(request.inblob.begin(), request.inblob.end(), data.begin());
    response.outblob = firmware_.report(data, 0);  // ignores privlevel
    return response;
  });
  auto o = options();
  o.vmpl = 1;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(1))), "snp.generated_vmpl_mismatch");

  start_tsm([](const FakeTsmRequest&) {
    FakeTsmResponse response;
    response.outblob = Bytes(100, 0);
    return response;
  });
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(1))),
            "snp.generated_report_invalid");
}

TEST_F(SnpAttesterTest, TsmErrorsPassThrough) {
  start_tsm([](const FakeTsmRequest&) {
    FakeTsmResponse response;
    response.read_error = true;
    return response;
  });
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(1))), "tsm.outblob_read_failed");
}

TEST_F(SnpAttesterTest, FallsBackToTheDeviceWhenConfigfsIsAnotherTee) {
  FakeConfigfsTsmOptions tdx;
  tdx.provider = "tdx_guest";
  tdx.privlevel = false;
  tdx.auxblob = false;
  start_tsm([](const FakeTsmRequest&) { return FakeTsmResponse{}; }, tdx);
  // Without a device: the configfs error.
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(1))), "tsm.provider_mismatch");
  // With one: the ioctl path.
  auto o = options();
  const auto fake_device = device();
  o.device = fake_device;
  const auto evidence = make(o)->generate_evidence(binding(8));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  expect_verifies(*evidence, binding(8));
  EXPECT_EQ(fake_device->calls().size(), 1U);
  // ConfigfsTsm alone never falls back.
  o.backend = SnpBackend::ConfigfsTsm;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(1))), "tsm.provider_mismatch");
}

TEST_F(SnpAttesterTest, NothingAvailable) {
  EXPECT_EQ(outcome(make(options())->generate_evidence(binding(1))), "snp.generation_unavailable");
  EXPECT_EQ(outcome(make(options(SnpBackend::ConfigfsTsm))->generate_evidence(binding(1))),
            "tsm.unavailable");
  const auto result = make(options(SnpBackend::Device))->generate_evidence(binding(1));
  EXPECT_EQ(outcome(result), "snp.device_open_failed");
  EXPECT_NE(result.error().detail.find("no-sev-guest"), std::string::npos);
}

TEST_F(SnpAttesterTest, DeviceExtendedReport) {
  auto o = options(SnpBackend::Device);
  const auto fake_device = device();
  o.device = fake_device;
  o.vmpl = 1;
  const auto evidence = make(o)->generate_evidence(binding(9));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  expect_verifies(*evidence, binding(9), 1);
  const auto calls = fake_device->calls();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].request, kSnpGetExtReport);
  EXPECT_EQ(calls[0].certs_len, 16U * 1024);
  auto decoded = decode_evidence(*evidence);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->certificates.entries.size(), 3U);
}

TEST_F(SnpAttesterTest, DeviceRetriesWithTheSizeTheHostAsksFor) {
  auto o = options(SnpBackend::Device);
  const auto fake_device = device();
  o.device = fake_device;
  o.initial_cert_buffer = 4096;  // a VCEK, ASK and ARK need two pages
  const auto evidence = make(o)->generate_evidence(binding(10));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  expect_verifies(*evidence, binding(10));
  const auto calls = fake_device->calls();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].certs_len, 4096U);
  EXPECT_EQ(calls[0].result, EIO);
  EXPECT_EQ(calls[1].certs_len, 8192U);
  EXPECT_EQ(calls[1].result, 0);

  o.max_cert_buffer = 4096;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(10))), "snp.device_cert_buffer_too_large");
}

TEST_F(SnpAttesterTest, DeviceBusyIsRetriedThenNamed) {
  auto o = options(SnpBackend::Device);
  const auto fake_device = device();
  o.device = fake_device;
  o.busy_retries = 3;
  fake_device->inject_busy(2);
  const auto evidence = make(o)->generate_evidence(binding(11));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  EXPECT_EQ(fake_device->calls().size(), 3U);
  fake_device->inject_busy(10);
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(11))), "snp.device_busy");
}

TEST_F(SnpAttesterTest, DeviceFailures) {
  auto o = options(SnpBackend::Device);
  const auto fake_device = device();
  o.device = fake_device;
  const auto attester = make(o);
  fake_device->inject_failure(EIO, 7);
  const auto failed = attester->generate_evidence(binding(1));
  EXPECT_EQ(outcome(failed), "snp.device_request_failed");
  EXPECT_NE(failed.error().detail.find("firmware error 7"), std::string::npos);

  auto status_device = std::make_shared<FakeSevGuestDevice>([this](const auto& request) {
    FakeSevGuestResponse response = firmware_.device(request);
    response.status = 0x16;  // INVALID_PARAM
    return response;
  });
  o.device = status_device;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(1))), "snp.firmware_error");

  auto short_device = std::make_shared<FakeSevGuestDevice>([](const auto&) {
    FakeSevGuestResponse response;
    response.report = Bytes(1000, 0);
    return response;
  });
  o.device = short_device;
  EXPECT_EQ(outcome(make(o)->generate_evidence(binding(1))), "snp.generated_report_invalid");
}

TEST_F(SnpAttesterTest, DeviceWithoutCertificatesUsesGetReport) {
  auto o = options(SnpBackend::Device);
  const auto fake_device = device();
  o.device = fake_device;
  o.device_certificates = false;
  const auto evidence = make(o)->generate_evidence(binding(12));
  ASSERT_TRUE(evidence) << evidence.error().describe();
  const auto calls = fake_device->calls();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].request, kSnpGetReport);
  auto decoded = decode_evidence(*evidence);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->certificates.empty());
}

TEST_F(SnpAttesterTest, CreateRejectsBadOptions) {
  SnpAttesterOptions o;
  o.type = AttestationType::DcapTdx;
  auto created = SnpAttester::create(o);
  ASSERT_FALSE(created);
  EXPECT_EQ(error_id(created.error().code), "snp.unsupported_attestation_type");
  o.type = AttestationType::SevSnp;
  o.vmpl = 4;
  created = SnpAttester::create(o);
  ASSERT_FALSE(created);
  EXPECT_EQ(error_id(created.error().code), "tsm.privlevel_out_of_range");
}

TEST_F(SnpAttesterTest, DetectsSnp) {
  const std::filesystem::path missing = std::filesystem::path(dir_.path()) / "missing";
  auto none = detect_snp(missing, missing);
  EXPECT_FALSE(none.available());
  // /dev/null stands in for a character device.
  auto device_only = detect_snp(missing, "/dev/null");
  EXPECT_TRUE(device_only.device);
  EXPECT_FALSE(device_only.configfs_tsm);
  EXPECT_TRUE(device_only.available());

  start_tsm();
  auto configfs = detect_snp(fake_->root(), missing);
  EXPECT_TRUE(configfs.configfs_tsm);
  EXPECT_EQ(configfs.tsm_provider, "sev_guest");
  EXPECT_TRUE(configfs.available());
  EXPECT_TRUE(fake_->requests().empty()) << "detection generates no report";
  EXPECT_TRUE(std::filesystem::is_empty(fake_->root()));
}

TEST_F(SnpAttesterTest, DetectionIgnoresATdxProvider) {
  FakeConfigfsTsmOptions tdx;
  tdx.provider = "tdx_guest";
  start_tsm(nullptr, tdx);
  auto detection = detect_snp(fake_->root(), std::filesystem::path(dir_.path()) / "missing");
  EXPECT_FALSE(detection.available());
  EXPECT_EQ(detection.tsm_provider, "tdx_guest");
}

TEST(SnpAssembleEvidence, ChecksAndCanonicalises) {
  auto firmware = std::make_unique<MockFirmware>();
  const Bytes report = firmware->report(binding(1), 0);
  const Bytes table = firmware->cert_table(0);
  auto evidence = assemble_evidence(report, table, binding(1), 0);
  ASSERT_TRUE(evidence) << evidence.error().describe();
  EXPECT_EQ(outcome(assemble_evidence(ByteView(report).first(1183), table, binding(1), 0)),
            "snp.generated_report_invalid");
  EXPECT_EQ(outcome(assemble_evidence(report, table, binding(2), 0)),
            "snp.generated_report_data_mismatch");
  EXPECT_EQ(outcome(assemble_evidence(report, table, binding(1), 3)),
            "snp.generated_vmpl_mismatch");
  // Every truncation of the table fails cleanly or yields an empty table (length 0).
  for (std::size_t n = 1; n < table.size(); ++n) {
    EXPECT_EQ(outcome(assemble_evidence(report, ByteView(table).first(n), binding(1), 0)),
              "snp.generated_cert_table_invalid")
        << n;
  }
  // A huge unknown entry is dropped to keep the evidence within its bound.
  auto parsed = parse_cert_table(table);
  ASSERT_TRUE(parsed);
  parsed->entries.push_back({guids::extra_platform_info(), Bytes(kMaxCertTableSize, 0x5a)});
  auto trimmed = assemble_evidence(report, encode_cert_table(*parsed), binding(1), 0);
  ASSERT_TRUE(trimmed) << trimmed.error().describe();
  auto decoded = decode_evidence(*trimmed);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->certificates.entries.size(), 3U);
  // A huge VCEK cannot be dropped.
  parsed->entries.erase(parsed->entries.begin() + 3);
  parsed->entries[0].data.resize(kMaxCertTableSize, 0x30);
  EXPECT_EQ(outcome(assemble_evidence(report, encode_cert_table(*parsed), binding(1), 0)),
            "snp.evidence_too_large");
}

}  // namespace
}  // namespace atls::attest::snp
