#pragma once
// Test doubles for the Attester/Verifier interfaces. They are never linked into the product:
// the channel tests need evidence whose binding can be checked without TEE hardware.
//
// EchoAttester's evidence is "ECHO" || report_data; EchoVerifier accepts exactly that for the
// expected report data and reports fixed measurements.

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "attest/attester.h"
#include "attest/verifier.h"

namespace atls::testing {

enum class FakeErrc { BadEvidence = 1, ReportDataMismatch, GenerationFailed };
ATLS_DECLARE_ERRC(FakeErrc, fake_category)

}  // namespace atls::testing

ATLS_REGISTER_ERRC(atls::testing::FakeErrc);

namespace atls::testing {

class EchoAttester final : public attest::Attester {
 public:
  enum class Mode {
    Honest,        ///< binds the report data it is given
    Fail,          ///< generation fails
    WrongBinding,  ///< binds the report data with its last byte flipped
  };
  explicit EchoAttester(attest::AttestationType type, std::size_t padding = 0,
                        Mode mode = Mode::Honest)
      : type_(type), padding_(padding), mode_(mode) {}
  attest::AttestationType type() const noexcept override { return type_; }
  Result<Bytes> generate(const attest::ReportData& report_data) const override;
  attest::ReportData last_report_data() const;

 private:
  attest::AttestationType type_;
  std::size_t padding_;
  Mode mode_;
  mutable std::mutex mutex_;
  mutable attest::ReportData last_{};
};

class EchoVerifier final : public attest::Verifier {
 public:
  explicit EchoVerifier(std::chrono::milliseconds delay = std::chrono::milliseconds(0),
                        std::uint8_t measurement_byte = 0x11)
      : delay_(delay), measurement_byte_(measurement_byte) {}
  std::string_view name() const noexcept override { return "echo"; }
  bool handles(attest::AttestationType type) const noexcept override {
    return attest::family_of(type) == attest::Family::Dcap;
  }
  Result<attest::VerifiedClaims> verify(attest::AttestationType type, ByteView evidence,
                                        const attest::ReportData& expected,
                                        SystemTime now) const override;
  int calls() const noexcept { return calls_.load(); }

 private:
  std::chrono::milliseconds delay_;
  std::uint8_t measurement_byte_;
  mutable std::atomic<int> calls_{0};
};

}  // namespace atls::testing
