#pragma once
// The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI spec, table "ATTESTATION_REPORT
// Structure"; docs/verification.md §2.1): strict parsing of the 1184-byte structure, product
// (processor generation) detection and per-product TCB_VERSION decoding. Pure computation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "attest/claims.h"
#include "attest/snp/snp_claims.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

/// Size of every report version (2 through 5).
inline constexpr std::size_t kReportSize = 0x4A0;
/// The signature covers bytes [0, 0x2A0).
inline constexpr std::size_t kSignedSize = 0x2A0;
/// R and S are 72-byte little-endian fields at 0x2A0 and 0x2E8; P-384 uses the low 48 bytes.
inline constexpr std::size_t kSignatureComponentSize = 72;
inline constexpr std::size_t kP384ComponentSize = 48;

/// SEV-SNP processor generations this verifier knows (KDS product names without stepping).
enum class Product { Milan, Genoa, Turin };

/// "Milan", "Genoa", "Turin" (the KDS product-line spelling).
std::string_view to_string(Product product) noexcept;

/// Parses a KDS/VCEK product name: the part before an optional stepping suffix ("Milan-B0" and
/// "Milan" are both Milan). nullopt for any other name.
std::optional<Product> parse_product_name(std::string_view name) noexcept;

/// Generation from CPUID (report v3+): family 0x19 model 0x00–0x0F Milan, 0x10–0x1F or
/// 0xA0–0xAF Genoa; family 0x1A model 0x00–0x11 Turin (verification.md §2.1).
/// @return Errc::UnknownProduct for anything else (e.g. Venice, zeros).
Result<Product> product_from_cpuid(const Cpuid& cpuid) noexcept;

/// Whether the product uses the Turin TCB_VERSION layout (FMC byte first).
bool has_fmc(Product product) noexcept;

/// Decodes a TCB_VERSION: Milan/Genoa byte0 boot_loader, byte1 tee, byte6 snp, byte7 microcode;
/// Turin byte0 fmc, byte1 boot_loader, byte2 tee, byte3 snp, byte7 microcode.
TcbVersion decode_tcb(std::uint64_t raw, Product product) noexcept;

/// Inverse of decode_tcb for the named components (reserved bytes zero; `fmc` ignored for
/// Milan/Genoa). Used by the mock and by tests.
std::uint64_t encode_tcb(const TcbVersion& tcb, Product product) noexcept;

/// A parsed report. `claims` holds every field; its TCB_VERSIONs carry only `raw` until
/// apply_product() decodes them for the product (which may come from the certificate, since
/// version-2 reports have no CPUID).
struct Report {
  std::array<std::uint8_t, kReportSize> bytes{};
  SnpClaims claims;
  ReportData report_data{};
  /// Set for version 3 and later (CPUID present).
  std::optional<Product> cpuid_product;
  /// Signature R and S, little-endian as in the report.
  std::array<std::uint8_t, kSignatureComponentSize> signature_r{};
  std::array<std::uint8_t, kSignatureComponentSize> signature_s{};

  ByteView signed_bytes() const noexcept { return ByteView(bytes.data(), kSignedSize); }
};

/// Parses exactly one report.
///
/// Checks, in order (each failure has its own code): size == 1184 (report_truncated /
/// report_trailing_bytes), version ∈ {2,3,4,5} (unsupported_report_version; version 4 has the
/// version-3 layout), SIGNATURE_ALGO == 1 (unsupported_signature_algorithm), guest policy bit 17
/// set and bits 26–63 clear (invalid_guest_policy), signing key 0 or 1 (invalid_signing_key;
/// 7 = report_not_signed), every reserved range zero (report_reserved_nonzero), CPUID names a
/// known generation for v3+ (unknown_product).
/// Never reads outside `data`. Thread-safe (pure function).
Result<Report> parse_report(ByteView data);

/// Sets `report.claims.product` and decodes every TCB_VERSION of the claims for `product`.
void apply_product(Report& report, Product product) noexcept;

}  // namespace atls::attest::snp
