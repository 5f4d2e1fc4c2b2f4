#pragma once
// VCEK/VLEK certificates: strict DER/PEM loading and the AMD X.509 extensions
// (OID prefix 1.3.6.1.4.1.3704.1; AMD "Versioned Chip Endorsement Key (VCEK) Certificate and
// KDS Interface Specification" §3; docs/verification.md §2.2). Pure computation.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/error.h"
#include "tls/ossl.h"

namespace atls::attest::snp {

/// The AMD extensions of a VCEK or VLEK. Every field is optional here; the verifier decides
/// which ones it requires (product name, the TCB SPLs, and hwID for a VCEK).
struct AmdExtensions {
  std::optional<std::int64_t> struct_version;  ///< .1 (Turin VCEKs: 1)
  std::optional<std::string> product_name;     ///< .2 IA5String, "Milan-B0", "Genoa", "Turin"
  std::optional<std::uint8_t> bl_spl;          ///< .3.1
  std::optional<std::uint8_t> tee_spl;         ///< .3.2
  std::optional<std::uint8_t> snp_spl;         ///< .3.3
  std::optional<std::uint8_t> spl4;            ///< .3.4 (reserved)
  std::optional<std::uint8_t> spl5;            ///< .3.5 (reserved)
  std::optional<std::uint8_t> spl6;            ///< .3.6 (reserved)
  std::optional<std::uint8_t> spl7;            ///< .3.7 (reserved)
  std::optional<std::uint8_t> ucode_spl;       ///< .3.8
  std::optional<std::uint8_t> fmc_spl;         ///< .3.9 (Turin)
  /// .4 hwID, VCEK only: 64 bytes (Turin: 8). Accepted either as the raw bytes or wrapped in a
  /// DER OCTET STRING (KDS changed the encoding in 2023; trustee test-vcek-invalid-new.der).
  std::optional<Bytes> hw_id;
  std::optional<std::string> csp_id;  ///< .5 IA5String, VLEK only
};

/// OID text of the AMD extensions.
namespace amd_oid {
inline constexpr std::string_view kStructVersion = "1.3.6.1.4.1.3704.1.1";
inline constexpr std::string_view kProductName = "1.3.6.1.4.1.3704.1.2";
inline constexpr std::string_view kBlSpl = "1.3.6.1.4.1.3704.1.3.1";
inline constexpr std::string_view kTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
inline constexpr std::string_view kSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
inline constexpr std::string_view kSpl4 = "1.3.6.1.4.1.3704.1.3.4";
inline constexpr std::string_view kSpl5 = "1.3.6.1.4.1.3704.1.3.5";
inline constexpr std::string_view kSpl6 = "1.3.6.1.4.1.3704.1.3.6";
inline constexpr std::string_view kSpl7 = "1.3.6.1.4.1.3704.1.3.7";
inline constexpr std::string_view kUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
inline constexpr std::string_view kFmcSpl = "1.3.6.1.4.1.3704.1.3.9";
inline constexpr std::string_view kHwId = "1.3.6.1.4.1.3704.1.4";
inline constexpr std::string_view kCspId = "1.3.6.1.4.1.3704.1.5";
}  // namespace amd_oid

/// Parses the AMD extensions of `cert`. Extensions under the AMD arc that this code does not
/// know are ignored. Errors: certificate_extension_malformed (wrong ASN.1 type, trailing bytes,
/// an SPL outside 0–255, an hwID of another length, or an AMD extension present twice).
/// Thread-safe (reads `cert` only).
Result<AmdExtensions> parse_amd_extensions(const X509* cert);

/// Parses one DER certificate; the whole input must be consumed (certificate_malformed).
Result<tls::X509Ptr> parse_certificate_der(ByteView der);

/// Parses every PEM certificate in `pem` in order (certificate_malformed if none or garbage).
Result<std::vector<tls::X509Ptr>> parse_certificates_pem(std::string_view pem);

/// DER encoding of `cert` (empty on failure).
Bytes certificate_der(const X509* cert);

/// notBefore/notAfter as seconds since the epoch (nullopt if unparsable).
struct Validity {
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
};
std::optional<Validity> certificate_validity(const X509* cert);

/// Seconds since the epoch of `time` (floor).
std::int64_t to_unix_seconds(SystemTime time) noexcept;

/// "2024-07-19T08:29:28Z" for error details.
std::string format_unix_seconds(std::int64_t seconds);

}  // namespace atls::attest::snp
