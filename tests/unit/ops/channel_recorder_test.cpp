#include "ops/channel_recorder.h"

#include <gtest/gtest.h>

#include <fstream>

#include "ratls/errors.h"

namespace atls::ops {
namespace {

namespace fs = std::filesystem;

AuditOptions never_sync() {
  AuditOptions options;
  options.fsync = FsyncPolicy::Never;
  return options;
}

ratls::ChannelReport established_report(std::string peer, std::uint8_t mrtd_byte) {
  ratls::ChannelReport report;
  report.role = ratls::ChannelRole::Server;
  report.peer = std::move(peer);
  report.stage = ratls::ChannelStage::Established;
  report.alpn = "flashbots-ratls/1+h2";
  report.local_type = attest::AttestationType::None;
  report.peer_claimed_type = attest::AttestationType::DcapTdx;
  report.peer_evidence_sha256 = std::string(64, 'e');
  attest::VerifiedClaims claims;
  claims.type = attest::AttestationType::DcapTdx;
  claims.measurements[0] = Bytes(48, mrtd_byte);
  claims.tcb_status = "UpToDate";
  report.peer_claims = claims;
  report.matched_record = "record 1";
  report.handshake_seconds = 0.002;
  report.verification_seconds = 0.004;
  return report;
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class ChannelRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("atls-recorder-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    metrics_ = std::make_shared<ProxyMetrics>(registry_);
    auto audit = AuditLog::open(dir_ / "audit.json", never_sync());
    ASSERT_TRUE(audit);
    audit_ = std::move(*audit);
    recorder_ = std::make_shared<ChannelRecorder>(metrics_, audit_);
  }
  void TearDown() override {
    // The audit writer thread may still be writing a record (tests that never read the log
    // do not flush it): stop it before the directory goes away.
    recorder_.reset();
    audit_.reset();
    fs::remove_all(dir_);
  }

  std::vector<nlohmann::json> audit_records() {
    audit_->flush();
    std::ifstream in(dir_ / "audit.json");
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  fs::path dir_;
  Registry registry_;
  std::shared_ptr<ProxyMetrics> metrics_;
  std::shared_ptr<AuditLog> audit_;
  std::shared_ptr<ChannelRecorder> recorder_;
};

TEST_F(ChannelRecorderTest, AcceptedChannelIsCountedAndAudited) {
  recorder_->on_channel(established_report("10.0.0.1:5000", 1));
  const auto text = registry_.render();
  EXPECT_TRUE(has(
      text,
      R"(atls_attestation_verifications_total{role="server",type="dcap-tdx",result="accepted"} 1)"))
      << text;
  EXPECT_TRUE(has(text, R"(atls_channels_active{role="server"} 1)"));
  EXPECT_TRUE(has(text, R"(atls_attestation_verification_seconds_count{type="dcap-tdx"} 1)"));
  recorder_->on_channel_closed(ratls::ChannelRole::Server);
  EXPECT_TRUE(has(registry_.render(), R"(atls_channels_active{role="server"} 0)"));

  const auto records = audit_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["event"], "channel");
  EXPECT_EQ(records[0]["decision"], "accepted");
  EXPECT_EQ(records[0]["peer"], "10.0.0.1:5000");
  EXPECT_EQ(records[0]["peer_type"], "dcap-tdx");
  EXPECT_EQ(records[0]["tcb_status"], "UpToDate");
  EXPECT_EQ(records[0]["matched_record"], "record 1");
  EXPECT_EQ(records[0]["measurements"]["0"], to_hex(Bytes(48, 1)));
}

TEST_F(ChannelRecorderTest, PolicyRejectionIsAPolicyViolationNotAVerificationFailure) {
  auto report = established_report("10.0.0.2:5000", 1);
  report.stage = ratls::ChannelStage::Verification;
  report.peer_claims.reset();
  report.error = make_error_code(ratls::Errc::MeasurementsNotAccepted);
  recorder_->on_channel(report);
  const auto text = registry_.render();
  EXPECT_TRUE(has(
      text,
      R"(atls_policy_violations_total{role="server",reason="ratls.measurements_not_accepted"} 1)"))
      << text;
  EXPECT_FALSE(has(text, "atls_attestation_failures_total{"));
  EXPECT_TRUE(has(
      text,
      R"(atls_attestation_verifications_total{role="server",type="dcap-tdx",result="rejected"} 1)"));
  const auto records = audit_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["decision"], "rejected");
  EXPECT_EQ(records[0]["reason"], "ratls.measurements_not_accepted");
}

TEST_F(ChannelRecorderTest, VerifierErrorIsAnAttestationFailure) {
  auto report = established_report("10.0.0.3:5000", 1);
  report.stage = ratls::ChannelStage::Verification;
  report.peer_claims.reset();
  report.error = make_error_code(ratls::Errc::FrameTooLarge);  // any non-policy code
  recorder_->on_channel(report);
  const auto text = registry_.render();
  EXPECT_TRUE(has(
      text,
      R"(atls_attestation_failures_total{role="server",type="dcap-tdx",reason="ratls.frame_too_large"} 1)"))
      << text;
  EXPECT_FALSE(has(text, "atls_policy_violations_total{"));
}

TEST_F(ChannelRecorderTest, HandshakeFailuresAreCountedButNotAudited) {
  ratls::ChannelReport report;
  report.role = ratls::ChannelRole::Client;
  report.peer = "127.0.0.1:1";
  report.stage = ratls::ChannelStage::Handshake;
  report.error = make_error_code(ratls::Errc::AlpnMissing);
  recorder_->on_channel(report);
  EXPECT_TRUE(has(
      registry_.render(),
      R"(atls_channel_failures_total{role="client",stage="handshake",reason="ratls.alpn_missing"} 1)"));
  EXPECT_TRUE(audit_records().empty());
}

TEST_F(ChannelRecorderTest, ChangedMeasurementsOfTheSamePeerAreDrift) {
  recorder_->on_channel(established_report("10.0.0.9:1111", 1));
  recorder_->on_channel(established_report("10.0.0.9:2222", 1));  // same client IP, same values
  EXPECT_EQ(recorder_->drift_events(), 0u);
  recorder_->on_channel(established_report("10.0.0.9:3333", 2));
  EXPECT_EQ(recorder_->drift_events(), 1u);
  recorder_->on_channel(established_report("10.0.0.10:1111", 3));  // another peer: no drift
  EXPECT_EQ(recorder_->drift_events(), 1u);
  EXPECT_TRUE(has(registry_.render(), R"(atls_measurement_drift_detected_total{role="server"} 1)"));
  const auto records = audit_records();
  const auto drift = std::find_if(records.begin(), records.end(), [](const nlohmann::json& r) {
    return r["event"] == "measurement_drift";
  });
  ASSERT_NE(drift, records.end());
  EXPECT_EQ((*drift)["previous_measurements"]["0"], to_hex(Bytes(48, 1)));
  EXPECT_EQ((*drift)["measurements"]["0"], to_hex(Bytes(48, 2)));
}

TEST(DriftIdentity, ServerSideIgnoresSourcePortClientSideKeepsIt) {
  ratls::ChannelReport report;
  report.role = ratls::ChannelRole::Server;
  report.peer = "[::1]:4000";
  EXPECT_EQ(drift_identity(report), "server [::1]");
  report.role = ratls::ChannelRole::Client;
  EXPECT_EQ(drift_identity(report), "client [::1]:4000");
}

TEST(StatusClass, Buckets) {
  EXPECT_EQ(status_class(200), "2xx");
  EXPECT_EQ(status_class(503), "5xx");
  EXPECT_EQ(status_class(0), "error");
  EXPECT_EQ(status_class(700), "error");
}

}  // namespace
}  // namespace atls::ops
