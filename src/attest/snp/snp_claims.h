#pragma once
// What the SEV-SNP verifier establishes about a genuine attestation report
// (docs/verification.md §2; AMD SEV-SNP ABI spec, table "ATTESTATION_REPORT structure").
// Plain data: policy depends on it without depending on the verifier.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace atls::attest::snp {

/// A TCB_VERSION as reported, decoded for the product (Turin adds FMC and moves fields).
struct TcbVersion {
  std::uint64_t raw = 0;
  std::uint8_t bootloader = 0;
  std::uint8_t tee = 0;
  std::uint8_t snp = 0;
  std::uint8_t microcode = 0;
  std::optional<std::uint8_t> fmc;  ///< Turin and later only
};

enum class Signer { Vcek, Vlek };

struct SnpClaims {
  std::uint32_t report_version = 0;
  std::string product;  ///< "Milan", "Genoa", "Turin"
  Signer signer = Signer::Vcek;
  std::uint32_t guest_svn = 0;
  std::uint64_t policy = 0;  ///< guest policy bits (debug = bit 19, SMT = bit 16, ...)
  std::uint32_t vmpl = 0;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::array<std::uint8_t, 48> measurement{};
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 64> chip_id{};
  std::uint64_t platform_info = 0;
  TcbVersion current_tcb;
  TcbVersion reported_tcb;
  TcbVersion committed_tcb;
  TcbVersion launch_tcb;
};

}  // namespace atls::attest::snp
