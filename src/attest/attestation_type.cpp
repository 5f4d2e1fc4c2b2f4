#include "attest/attestation_type.h"

#include <array>
#include <utility>

namespace atls::attest {
namespace {

constexpr std::array kTypes{
    std::pair{AttestationType::None, std::string_view{"none"}},
    std::pair{AttestationType::DcapTdx, std::string_view{"dcap-tdx"}},
    std::pair{AttestationType::GcpTdx, std::string_view{"gcp-tdx"}},
    std::pair{AttestationType::QemuTdx, std::string_view{"qemu-tdx"}},
    std::pair{AttestationType::AzureTdx, std::string_view{"azure-tdx"}},
    std::pair{AttestationType::SevSnp, std::string_view{"sev-snp"}},
    std::pair{AttestationType::GcpSnp, std::string_view{"gcp-snp"}},
};

constexpr std::array kAll{AttestationType::None,     AttestationType::DcapTdx,
                          AttestationType::GcpTdx,   AttestationType::QemuTdx,
                          AttestationType::AzureTdx, AttestationType::SevSnp,
                          AttestationType::GcpSnp};

}  // namespace

std::string_view to_string(AttestationType type) noexcept {
  for (const auto& [t, name] : kTypes) {
    if (t == type) {
      return name;
    }
  }
  return "invalid";
}

std::optional<AttestationType> parse_attestation_type(std::string_view text) noexcept {
  for (const auto& [t, name] : kTypes) {
    if (name == text) {
      return t;
    }
  }
  return std::nullopt;
}

Family family_of(AttestationType type) noexcept {
  switch (type) {
    case AttestationType::None: return Family::None;
    case AttestationType::DcapTdx:
    case AttestationType::GcpTdx:
    case AttestationType::QemuTdx: return Family::Dcap;
    case AttestationType::AzureTdx: return Family::Azure;
    case AttestationType::SevSnp:
    case AttestationType::GcpSnp: return Family::Snp;
  }
  return Family::None;
}

std::span<const AttestationType> all_attestation_types() noexcept {
  return kAll;
}

}  // namespace atls::attest
