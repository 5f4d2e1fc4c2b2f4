#pragma once
// Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1): docs/verification.md §1.2,
// Intel "SGX PCK Certificate and Certificate Revocation List Profile Specification" §3.5.

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx {

using Fmspc = std::array<std::uint8_t, 6>;
using PceId = std::array<std::uint8_t, 2>;

/// Which Intel PCK CA issued a PCK certificate (selects the PCK CRL, verification.md §1.3 step 2).
enum class PckCaType { Processor, Platform };

std::string_view to_string(PckCaType type) noexcept;

enum class SgxType : std::uint8_t { Standard = 0, Scalable = 1, ScalableWithIntegrity = 2 };

struct PckPlatformConfiguration {
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
};

struct PckExtension {
  std::array<std::uint8_t, 16> ppid{};
  /// SGX TCB component SVNs 01..16 (OIDs .2.1 - .2.16).
  std::array<std::uint8_t, 16> tcb_components{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> cpu_svn{};
  PceId pce_id{};
  Fmspc fmspc{};
  std::uint8_t sgx_type = 0;  ///< SgxType value (unknown future values are kept as-is)
  std::optional<std::array<std::uint8_t, 16>> platform_instance_id;  ///< platform CA certs only
  std::optional<PckPlatformConfiguration> configuration;             ///< platform CA certs only
};

/// Parses the DER value of the extension (the outer SEQUENCE).
/// @return the extension or tdx.pck_extension_malformed (with the failing field in the detail).
/// @par Thread Safety
/// Pure function.
Outcome<PckExtension> parse_pck_extension_der(ByteView der);

/// Finds and parses the extension in `cert`: tdx.pck_extension_missing when it is absent (or
/// present twice), tdx.pck_extension_malformed when it does not parse.
Outcome<PckExtension> parse_pck_extension(X509* cert);

/// CA type from the issuer of a PCK certificate, as dcap-qvl and Intel PCS name the CAs:
/// "Platform" or "Processor" in the issuer CN. nullopt otherwise.
std::optional<PckCaType> pck_ca_type_from_issuer(X509* pck_leaf);

/// The extension's OID in dotted form.
inline constexpr const char* kSgxExtensionOid = "1.2.840.113741.1.13.1";

}  // namespace atls::attest::tdx
