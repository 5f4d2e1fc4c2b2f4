// Appraiser::still_accepts: the re-check of open channels after a policy reload.
#include "ratls/appraisal.h"

#include <gtest/gtest.h>

#include "policy/tcb_status_policy.h"
#include "ratls/errors.h"

namespace atls::ratls {
namespace {

Appraiser appraiser_from(const std::string& json) {
  auto policy = policy::MeasurementPolicy::parse(json, "inline").value();
  return Appraiser(std::make_shared<const policy::MeasurementPolicy>(std::move(policy)), {});
}

PeerAttestation tdx_peer(std::uint8_t mrtd_byte, std::string tcb_status = "UpToDate") {
  attest::VerifiedClaims claims;
  claims.type = attest::AttestationType::DcapTdx;
  claims.measurements[0] = Bytes(48, mrtd_byte);
  claims.tcb_status = std::move(tcb_status);
  PeerAttestation peer;
  peer.claimed_type = claims.type;
  peer.claims = std::move(claims);
  peer.matched_record = "earlier";
  return peer;
}

// A policy accepting dcap-tdx with MRTD = `byte` repeated (48 bytes), optionally also none.
std::string tdx_policy(std::uint8_t byte, bool with_none = false) {
  std::string hex;
  for (int i = 0; i < 48; ++i) {
    hex += to_hex(ByteView(&byte, 1));
  }
  return std::string("[") + (with_none ? R"({"attestation_type":"none"},)" : "") +
         R"({"attestation_type":"dcap-tdx","measurements":{"mrtd":{"expected":")" + hex +
         R"("}}}])";
}

TEST(AppraiserStillAccepts, UnattestedPeerNeedsANoneRecord) {
  const PeerAttestation unattested;
  EXPECT_TRUE(appraiser_from(R"([{"attestation_type":"none"}])").still_accepts(unattested));
  const auto refused = appraiser_from(tdx_policy(0xab)).still_accepts(unattested);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::AttestationTypeNotAccepted));
}

TEST(AppraiserStillAccepts, AttestedPeerMustStillMatchARecord) {
  EXPECT_TRUE(appraiser_from(tdx_policy(0xab)).still_accepts(tdx_peer(0xab)));
  const auto refused = appraiser_from(tdx_policy(0xab)).still_accepts(tdx_peer(0xcd));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::MeasurementsNotAccepted));
  EXPECT_NE(refused.error().detail.find("mrtd"), std::string::npos) << refused.error().detail;
}

TEST(AppraiserStillAccepts, AttestedPeerThatWouldBeDowngradedIsRefused) {
  // The new policy accepts none, but no longer this workload: the channel would report claims
  // the policy does not accept, so it must be re-established (and appraised) instead.
  const auto refused = appraiser_from(tdx_policy(0xee, true)).still_accepts(tdx_peer(0xab));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::MeasurementsNotAccepted));
  // A family the policy no longer constrains at all is refused too.
  EXPECT_FALSE(appraiser_from(R"([{"attestation_type":"none"}])").still_accepts(tdx_peer(0xab)));
}

TEST(AppraiserStillAccepts, TcbStatusIsReChecked) {
  auto policy = policy::MeasurementPolicy::parse(tdx_policy(0xab), "inline").value();
  policy.set_tcb_status_policy(policy::TcbStatusPolicy::parse({"UpToDate"}).value());
  const Appraiser strict(std::make_shared<const policy::MeasurementPolicy>(std::move(policy)), {});
  EXPECT_TRUE(strict.still_accepts(tdx_peer(0xab, "UpToDate")));
  const auto refused = strict.still_accepts(tdx_peer(0xab, "SWHardeningNeeded"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::TcbStatusNotAccepted));
}

}  // namespace
}  // namespace atls::ratls
