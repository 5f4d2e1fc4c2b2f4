// The local attester: explicit types and `auto` detection (interop spec §4.5, extended to
// SEV-SNP) against the fake configfs-tsm (tests/support/fake_configfs_tsm.h) and a fake GCP
// metadata server on 127.0.0.1 (the plain-HTTP FakePcs, tests/support/fake_pcs.h). The
// character device /dev/null stands in for a present /dev/sev-guest or /dev/tdx_guest (detection
// only checks the file type; its ioctls fail, so generation through it fails with a name). No TEE
// hardware is involved.
#include "attest/local/local_attester.h"

#include <gtest/gtest.h>

#include <map>

#include "attest/mock/tdx_mock.h"
#include "attest/snp/snp_attester.h"
#include "attest/tdx_gen/tdx_attester.h"
#include "support/fake_configfs_tsm.h"
#include "support/fake_pcs.h"
#include "support/process.h"

namespace atls::attest::local {
namespace {

using atls::testing::FakeConfigfsTsm;
using atls::testing::FakeConfigfsTsmOptions;
using atls::testing::FakePcs;
using atls::testing::FakeTsmRequest;
using atls::testing::FakeTsmResponse;

const SystemTime kNow = SystemTime(std::chrono::seconds(1767225601));  // 2026-01-01

FakeConfigfsTsmOptions provider(const std::string& name) {
  FakeConfigfsTsmOptions options;
  options.provider = name;
  options.privlevel = name == "sev_guest";
  options.auxblob = name == "sev_guest";
  return options;
}

bool mentions(const Detection& detection, const std::string& text) {
  return detection.summary().find(text) != std::string::npos;
}

class LocalAttesterTest : public ::testing::Test {
 protected:
  // A fake configfs-tsm whose provider answers nothing useful (detection never generates).
  void start_tsm(const std::string& name) {
    fake_ = std::make_unique<FakeConfigfsTsm>(
        dir_.path(),
        [](const FakeTsmRequest&) {
          return FakeTsmResponse{{}, {}, true};
        },
        provider(name));
    ASSERT_TRUE(fake_->ok()) << fake_->error();
  }

  void serve_gcp_metadata() {
    metadata_.set_route("/", {200, {{"Metadata-Flavor", "Google"}}, "computeMetadata/\n"});
  }

  LocalAttesterOptions options() const {
    LocalAttesterOptions o;
    o.tsm_root = fake_ ? fake_->root() : std::filesystem::path(dir_.path()) / "no-tsm";
    o.sev_guest_device = std::filesystem::path(dir_.path()) / "no-sev-guest";
    o.tdx_guest_device = std::filesystem::path(dir_.path()) / "no-tdx-guest";
    o.gcp_metadata_url = metadata_.base_url();
    return o;
  }

  atls::testing::TempDir dir_;
  FakePcs metadata_;  // answers 404 until a test serves the GCP route
  std::unique_ptr<FakeConfigfsTsm> fake_;
};

TEST_F(LocalAttesterTest, NothingFoundFallsBackToNoneAndSaysWhy) {
  const Detection detection = detect(options());
  EXPECT_EQ(detection.type, AttestationType::None);
  EXPECT_TRUE(detection.tsm_provider.empty());
  EXPECT_FALSE(detection.sev_guest_device);
  EXPECT_TRUE(mentions(detection, "no-tsm not present")) << detection.summary();
  EXPECT_TRUE(mentions(detection, "no-sev-guest: No such file or directory"))
      << detection.summary();
  EXPECT_FALSE(detection.tdx_guest_device);
  EXPECT_TRUE(mentions(detection, "no-tdx-guest: No such file or directory"))
      << detection.summary();
  // Without a TEE there is nothing to label: the network is not touched.
  EXPECT_EQ(metadata_.total_hits(), 0U);

  const auto attester = make_attester("auto", options());
  ASSERT_TRUE(attester) << attester.error().describe();
  EXPECT_EQ((*attester)->type(), AttestationType::None);
}

TEST_F(LocalAttesterTest, TdxGuestIsDcapTdx) {
  start_tsm("tdx_guest");
  const Detection detection = detect(options());
  EXPECT_EQ(detection.type, AttestationType::DcapTdx);
  EXPECT_EQ(detection.tsm_provider, "tdx_guest");
  EXPECT_FALSE(detection.gcp);
  EXPECT_TRUE(mentions(detection, "status 404")) << detection.summary();
  EXPECT_EQ(metadata_.hits("/"), 1U);
  // The probe entry was created and removed; no report was generated.
  EXPECT_TRUE(fake_->requests().empty());
  EXPECT_EQ(fake_->entries_created(), 1U);
  EXPECT_TRUE(std::filesystem::is_empty(fake_->root()));

  const auto attester = make_attester("auto", options());
  ASSERT_TRUE(attester) << attester.error().describe();
  EXPECT_EQ((*attester)->type(), AttestationType::DcapTdx);
  EXPECT_NE(dynamic_cast<const tdx_gen::TdxAttester*>(attester->get()), nullptr);
}

TEST_F(LocalAttesterTest, TdxGuestOnGcpIsGcpTdx) {
  start_tsm("tdx_guest");
  serve_gcp_metadata();
  const Detection detection = detect(options());
  EXPECT_EQ(detection.type, AttestationType::GcpTdx);
  EXPECT_TRUE(detection.gcp);
}

TEST_F(LocalAttesterTest, SevGuestIsSevSnpOrGcpSnp) {
  start_tsm("sev_guest");
  EXPECT_EQ(detect(options()).type, AttestationType::SevSnp);
  serve_gcp_metadata();
  const auto attester = make_attester("auto", options());
  ASSERT_TRUE(attester) << attester.error().describe();
  EXPECT_EQ((*attester)->type(), AttestationType::GcpSnp);
  const auto* snp = dynamic_cast<const snp::SnpAttester*>(attester->get());
  ASSERT_NE(snp, nullptr);
  EXPECT_EQ(snp->options().tsm.root.string(), fake_->root().string());
}

TEST_F(LocalAttesterTest, SevGuestDeviceWithoutConfigfsTsmIsSevSnp) {
  auto o = options();
  o.sev_guest_device = "/dev/null";  // any character device
  const Detection detection = detect(o);
  EXPECT_EQ(detection.type, AttestationType::SevSnp);
  EXPECT_TRUE(detection.sev_guest_device);
  const auto attester = make_attester("auto", o);
  ASSERT_TRUE(attester);
  const auto* snp = dynamic_cast<const snp::SnpAttester*>(attester->get());
  ASSERT_NE(snp, nullptr);
  EXPECT_EQ(snp->options().device_path.string(), "/dev/null");
}

TEST_F(LocalAttesterTest, SevGuestPathThatIsNoDeviceIsIgnored) {
  auto o = options();
  o.sev_guest_device = dir_.write("sev-guest", "a regular file");
  const Detection detection = detect(o);
  EXPECT_EQ(detection.type, AttestationType::None);
  EXPECT_TRUE(mentions(detection, "not a character device")) << detection.summary();
}

TEST_F(LocalAttesterTest, UnknownProviderIsNone) {
  start_tsm("cca_guest");
  const Detection detection = detect(options());
  EXPECT_EQ(detection.type, AttestationType::None);
  EXPECT_EQ(detection.tsm_provider, "cca_guest");
  EXPECT_TRUE(mentions(detection, "not a TEE this build generates evidence for"))
      << detection.summary();
}

TEST_F(LocalAttesterTest, TdxGuestDeviceWithoutConfigfsTsmIsDcapTdx) {
  // Kernels without configfs-tsm (or configfs-tsm not usable by this user): the device gives
  // TDREPORTs, quotes come through TDX_CMD_GET_QUOTE or the QGS (verification.md §5.3).
  auto o = options();
  o.tdx_guest_device = "/dev/null";  // any character device
  o.tdx_qgs_address = "unix:" + dir_.path() + "/qgs.sock";
  const Detection detection = detect(o);
  EXPECT_EQ(detection.type, AttestationType::DcapTdx);
  EXPECT_TRUE(detection.tdx_guest_device);
  EXPECT_FALSE(detection.sev_guest_device);
  EXPECT_TRUE(mentions(detection, "/dev/null: present")) << detection.summary();
  const auto attester = make_attester("auto", o);
  ASSERT_TRUE(attester) << attester.error().describe();
  const auto* tdx = dynamic_cast<const tdx_gen::TdxAttester*>(attester->get());
  ASSERT_NE(tdx, nullptr);
  EXPECT_EQ(tdx->options().device_path.string(), "/dev/null");
  EXPECT_EQ(tdx->options().qgs.address.to_string(), o.tdx_qgs_address);
  EXPECT_EQ(tdx->options().backend, tdx_gen::TdxBackend::Auto);
  // /dev/null answers no TDX ioctl: the real device code names the failure.
  const auto evidence = (*attester)->generate_evidence(ReportData{});
  ASSERT_FALSE(evidence);
  EXPECT_EQ(error_id(evidence.error().code), "tdx_gen.device_report_failed");
}

TEST_F(LocalAttesterTest, SevGuestDeviceWinsOverTdxGuestDevice) {
  // Both cannot exist in one guest; the SEV-SNP probe runs first, as before the TDX one existed.
  auto o = options();
  o.sev_guest_device = "/dev/null";
  o.tdx_guest_device = "/dev/null";
  const Detection detection = detect(o);
  EXPECT_EQ(detection.type, AttestationType::SevSnp);
  EXPECT_FALSE(detection.tdx_guest_device);  // not probed
}

TEST_F(LocalAttesterTest, InvalidQgsAddressIsRefusedForTdxTypes) {
  auto o = options();
  o.tdx_qgs_address = "vsock:2";
  for (const char* type : {"dcap-tdx", "gcp-tdx", "qemu-tdx"}) {
    const auto attester = make_attester(type, o);
    ASSERT_FALSE(attester) << type;
    EXPECT_EQ(error_id(attester.error().code), "tdx_gen.qgs_address_invalid") << type;
    EXPECT_NE(attester.error().detail.find("vsock:2"), std::string::npos);
  }
  EXPECT_TRUE(make_attester("sev-snp", o));  // only the TDX attester uses it
  EXPECT_TRUE(make_attester("none", o));
}

TEST_F(LocalAttesterTest, ConfigfsTsmFailureIsNamed) {
  // Entries are created but never populated: the provider cannot be read.
  auto unpopulated = provider("tdx_guest");
  unpopulated.populate = false;
  fake_ = std::make_unique<FakeConfigfsTsm>(
      dir_.path(), [](const FakeTsmRequest&) { return FakeTsmResponse{}; }, unpopulated);
  ASSERT_TRUE(fake_->ok());
  auto o = options();
  o.tsm_attribute_wait = std::chrono::milliseconds(50);
  const Detection detection = detect(o);
  EXPECT_EQ(detection.type, AttestationType::None);
  EXPECT_TRUE(mentions(detection, "tsm.attribute_missing")) << detection.summary();
}

TEST_F(LocalAttesterTest, GcpProbeNeedsStatus200AndTheFlavorHeader) {
  const auto url = metadata_.base_url();
  metadata_.set_route("/", {200, {}, "hello"});
  auto probe = probe_gcp(url, std::chrono::milliseconds(2000));
  EXPECT_FALSE(probe.on_gcp);
  EXPECT_NE(probe.reason.find("no Metadata-Flavor header"), std::string::npos) << probe.reason;
  metadata_.set_route("/", {200, {{"Metadata-Flavor", "Amazon"}}, ""});
  EXPECT_FALSE(probe_gcp(url, std::chrono::milliseconds(2000)).on_gcp);
  metadata_.set_route("/", {403, {{"Metadata-Flavor", "Google"}}, ""});
  EXPECT_FALSE(probe_gcp(url, std::chrono::milliseconds(2000)).on_gcp);
  metadata_.set_route("/", {200, {{"metadata-flavor", "Google"}}, ""});
  EXPECT_TRUE(probe_gcp(url, std::chrono::milliseconds(2000)).on_gcp);
  EXPECT_FALSE(probe_gcp("not a url", std::chrono::milliseconds(2000)).on_gcp);
}

TEST_F(LocalAttesterTest, GcpProbeThatTimesOutIsNotGcp) {
  start_tsm("tdx_guest");
  serve_gcp_metadata();
  metadata_.hold(true);  // the request is received and never answered
  const Detection detection = detect(options());
  metadata_.hold(false);
  EXPECT_EQ(detection.type, AttestationType::DcapTdx);
  EXPECT_FALSE(detection.gcp);
  EXPECT_TRUE(mentions(detection, "net.timeout")) << detection.summary();
}

TEST_F(LocalAttesterTest, GcpProbeRefusedIsNotGcp) {
  start_tsm("sev_guest");
  metadata_.refuse_connections();
  const Detection detection = detect(options());
  EXPECT_EQ(detection.type, AttestationType::SevSnp);
  EXPECT_TRUE(mentions(detection, "net.connect_failed")) << detection.summary();
}

TEST_F(LocalAttesterTest, ExplicitTypes) {
  const std::map<std::string, AttestationType> expected{
      {"none", AttestationType::None},      {"dcap-tdx", AttestationType::DcapTdx},
      {"gcp-tdx", AttestationType::GcpTdx}, {"qemu-tdx", AttestationType::QemuTdx},
      {"sev-snp", AttestationType::SevSnp}, {"gcp-snp", AttestationType::GcpSnp},
  };
  for (const auto& [name, type] : expected) {
    const auto attester = make_attester(name, options());
    ASSERT_TRUE(attester) << name << ": " << attester.error().describe();
    EXPECT_EQ((*attester)->type(), type) << name;
  }
  // An explicit type never probes: no metadata request, even for gcp-*.
  EXPECT_EQ(metadata_.total_hits(), 0U);

  const auto azure = make_attester("azure-tdx", options());
  ASSERT_FALSE(azure);
  EXPECT_EQ(error_id(azure.error().code), "attest.generation_unavailable");
  EXPECT_NE(azure.error().detail.find("azure-tdx"), std::string::npos);
  for (const char* bad : {"", "AUTO", "Dcap-Tdx", "tdx", "sev_snp"}) {
    const auto unknown = make_attester(bad, options());
    ASSERT_FALSE(unknown) << bad;
    EXPECT_EQ(error_id(unknown.error().code), "attest.unknown_attestation_type") << bad;
    EXPECT_NE(unknown.error().detail.find("sev-snp"), std::string::npos);
  }
}

TEST_F(LocalAttesterTest, ExplicitTdxWithoutConfigfsTsmFailsWhenGenerating) {
  // What the readiness self-test reports on a machine that is not a TD.
  const auto attester = make_attester("dcap-tdx", options());
  ASSERT_TRUE(attester);
  const auto evidence = (*attester)->generate_evidence(ReportData{});
  ASSERT_FALSE(evidence);
  EXPECT_EQ(error_id(evidence.error().code), "tdx_gen.generation_unavailable");
  EXPECT_NE(evidence.error().describe().find("no-tsm"), std::string::npos)
      << evidence.error().describe();
  EXPECT_NE(evidence.error().describe().find("no-tdx-guest"), std::string::npos)
      << evidence.error().describe();
}

TEST_F(LocalAttesterTest, AutoTdxGeneratesAVerifiableQuote) {
  auto pki = mock::MockTdxPki::create(kNow);
  ASSERT_TRUE(pki) << pki.error().describe();
  auto service = mock::MockTdxAttester::create(*pki);
  ASSERT_TRUE(service);
  fake_ = std::make_unique<FakeConfigfsTsm>(
      dir_.path(),
      [quoting = *service](const FakeTsmRequest& request) {
        ReportData data{};
        std::copy_n(request.inblob.begin(), std::min(request.inblob.size(), data.size()),
                    data.begin());
        FakeTsmResponse response;
        response.outblob = quoting->generate(data).value();
        return response;
      },
      provider("tdx_guest"));
  ASSERT_TRUE(fake_->ok());
  serve_gcp_metadata();
  const auto attester = make_attester("auto", options());
  ASSERT_TRUE(attester) << attester.error().describe();
  ASSERT_EQ((*attester)->type(), AttestationType::GcpTdx);
  ReportData data{};
  data.fill(0x5A);
  const auto quote = (*attester)->generate_evidence(data);
  ASSERT_TRUE(quote) << quote.error().describe();
  const auto claims = (*pki)->make_verifier()->verify(AttestationType::GcpTdx, *quote, data, kNow);
  ASSERT_TRUE(claims) << describe(claims.error());
  EXPECT_EQ(claims->report_data, data);
}

TEST(LocalAttesterOptions, FromEnvironment) {
  const auto defaults =
      options_from_environment([](std::string_view) { return std::optional<std::string>(); });
  EXPECT_EQ(defaults.tsm_root.string(), "/sys/kernel/config/tsm/report");
  EXPECT_EQ(defaults.sev_guest_device.string(), "/dev/sev-guest");
  EXPECT_EQ(defaults.tdx_guest_device.string(), "/dev/tdx_guest");
  EXPECT_EQ(defaults.tdx_qgs_address, "vsock:2:4050");
  EXPECT_EQ(defaults.gcp_metadata_url, "http://metadata.google.internal");
  EXPECT_EQ(defaults.gcp_probe_timeout, std::chrono::milliseconds(200));

  const std::map<std::string, std::string, std::less<>> env{
      {"ATLS_TSM_REPORT_ROOT", "/tmp/fake/report"},
      {"ATLS_SEV_GUEST_DEVICE", "/tmp/fake/sev-guest"},
      {"ATLS_GCP_METADATA_URL", "http://127.0.0.1:9"},
      {"ATLS_TDX_GUEST_DEVICE", "/tmp/fake/tdx_guest"},
      {"ATLS_TDX_QGS_ADDRESS", "tcp:127.0.0.1:4050"},
  };
  const auto set = options_from_environment([&env](std::string_view name) {
    const auto it = env.find(name);
    return it == env.end() ? std::optional<std::string>() : it->second;
  });
  EXPECT_EQ(set.tsm_root.string(), "/tmp/fake/report");
  EXPECT_EQ(set.sev_guest_device.string(), "/tmp/fake/sev-guest");
  EXPECT_EQ(set.gcp_metadata_url, "http://127.0.0.1:9");
  EXPECT_EQ(set.tdx_guest_device.string(), "/tmp/fake/tdx_guest");
  EXPECT_EQ(set.tdx_qgs_address, "tcp:127.0.0.1:4050");

  // Empty values keep the defaults.
  const auto empty =
      options_from_environment([](std::string_view) { return std::optional<std::string>(""); });
  EXPECT_EQ(empty.tsm_root.string(), "/sys/kernel/config/tsm/report");
  EXPECT_EQ(empty.tdx_qgs_address, "vsock:2:4050");
}

}  // namespace
}  // namespace atls::attest::local
