#pragma once
// What the SEV-SNP verifier establishes about a genuine attestation report
// (docs/verification.md §2; AMD SEV-SNP Firmware ABI spec, table "ATTESTATION_REPORT structure").
// Plain data: policy depends on it without depending on the verifier (no parsing or crypto here,
// so src/policy can include it without linking the SNP module).

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace atls::attest::snp {

/// A TCB_VERSION as reported, decoded for the product (Turin adds FMC and moves fields; SEV-SNP
/// ABI spec table "TCB_VERSION Structure", verification.md §2.1).
struct TcbVersion {
  std::uint64_t raw = 0;  ///< the little-endian u64 exactly as in the report
  std::uint8_t bootloader = 0;
  std::uint8_t tee = 0;
  std::uint8_t snp = 0;
  std::uint8_t microcode = 0;
  std::optional<std::uint8_t> fmc;  ///< Turin and later only

  friend bool operator==(const TcbVersion&, const TcbVersion&) = default;
};

/// Which key signed the report (report flags bits 2–4: 0 = VCEK, 1 = VLEK).
enum class Signer { Vcek, Vlek };

/// CURRENT_/COMMITTED_ firmware version bytes (build, minor, major), e.g. 1.49.3.
struct FirmwareVersion {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  std::uint8_t build = 0;

  friend bool operator==(const FirmwareVersion&, const FirmwareVersion&) = default;
};

/// CPUID family/model/stepping of the chip (report version 3 and later).
struct Cpuid {
  std::uint8_t family = 0;  ///< combined extended family + family (0x19 Milan/Genoa, 0x1A Turin)
  std::uint8_t model = 0;   ///< combined extended model + model
  std::uint8_t stepping = 0;

  friend bool operator==(const Cpuid&, const Cpuid&) = default;
};

/// Guest policy bits (SEV-SNP ABI spec table "Guest Policy Structure"; verification.md §2.1).
namespace guest_policy {
inline constexpr std::uint64_t kAbiMinorMask = 0xff;
inline constexpr std::uint64_t kAbiMajorMask = 0xff00;
inline constexpr std::uint64_t kSmt = 1ULL << 16;  ///< SMT allowed
inline constexpr std::uint64_t kReservedMustBeOne = 1ULL << 17;
inline constexpr std::uint64_t kMigrateMa = 1ULL << 18;  ///< migration agent allowed
inline constexpr std::uint64_t kDebug = 1ULL << 19;      ///< debugging (host decryption) allowed
inline constexpr std::uint64_t kSingleSocket = 1ULL << 20;
inline constexpr std::uint64_t kCxlAllowed = 1ULL << 21;
inline constexpr std::uint64_t kMemAes256Xts = 1ULL << 22;
inline constexpr std::uint64_t kRaplDisable = 1ULL << 23;
inline constexpr std::uint64_t kCiphertextHiding = 1ULL << 24;
inline constexpr std::uint64_t kPageSwapDisable = 1ULL << 25;
/// Bits 26–63 must be zero.
inline constexpr std::uint64_t kMustBeZero = ~((1ULL << 26) - 1);
}  // namespace guest_policy

/// PLATFORM_INFO bits (SEV-SNP ABI spec table "PLATFORM_INFO Field").
namespace platform_info {
inline constexpr std::uint64_t kSmtEnabled = 1ULL << 0;
inline constexpr std::uint64_t kTsmeEnabled = 1ULL << 1;
inline constexpr std::uint64_t kEccEnabled = 1ULL << 2;
inline constexpr std::uint64_t kRaplDisabled = 1ULL << 3;
inline constexpr std::uint64_t kCiphertextHidingEnabled = 1ULL << 4;
inline constexpr std::uint64_t kAliasCheckComplete = 1ULL << 5;
inline constexpr std::uint64_t kTioEnabled = 1ULL << 7;
}  // namespace platform_info

struct SnpClaims {
  std::uint32_t report_version = 0;  ///< 2, 3, 4 or 5
  std::string product;               ///< "Milan", "Genoa", "Turin"
  Signer signer = Signer::Vcek;
  std::uint32_t guest_svn = 0;
  std::uint64_t policy = 0;  ///< guest policy bits (see guest_policy::)
  std::uint32_t vmpl = 0;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::array<std::uint8_t, 48> measurement{};
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 32> report_id_ma{};
  /// Zero when MASK_CHIP_ID is set or the report is VLEK-signed; Turin uses only bytes 0..7.
  std::array<std::uint8_t, 64> chip_id{};
  std::uint64_t platform_info = 0;  ///< see platform_info::
  bool author_key_en = false;       ///< flags bit 0
  bool mask_chip_key = false;       ///< flags bit 1
  std::optional<Cpuid> cpuid;       ///< version 3 and later
  TcbVersion current_tcb;
  TcbVersion reported_tcb;  ///< the TCB the VCEK is derived for (checked against the VCEK)
  TcbVersion committed_tcb;
  TcbVersion launch_tcb;
  FirmwareVersion current_firmware;
  FirmwareVersion committed_firmware;
  std::optional<std::uint64_t> launch_mit_vector;   ///< version 5 and later
  std::optional<std::uint64_t> current_mit_vector;  ///< version 5 and later
};

}  // namespace atls::attest::snp
