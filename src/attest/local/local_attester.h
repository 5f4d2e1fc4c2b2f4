#pragma once
// The local attester: which evidence this process generates for `--server-attestation-type` /
// `--client-attestation-type` (interop spec §4.1, §4.5), built from the TEE modules. It sits
// above them in the module order (attest/tdx_gen, attest/snp), which atls_attest cannot.
//
//   none                        → NoneAttester
//   dcap-tdx, gcp-tdx, qemu-tdx → tdx_gen::TdxAttester (configfs-tsm, provider tdx_guest, else
//                                 /dev/tdx_guest with TDX_CMD_GET_QUOTE or the QGS socket)
//   sev-snp, gcp-snp            → snp::SnpAttester (configfs-tsm sev_guest, else /dev/sev-guest)
//   azure-tdx                   → attest.generation_unavailable (vTPM + Azure IMDS, not built)
//   auto                        → detect() below, then as above
//
// A concrete type does not probe the system here: the proxy's readiness self-test generates
// evidence once at start-up and reports a failure with its detail. Only `auto` probes.
//
// Real evidence needs a real TDX or SEV-SNP guest. This repository tests the whole path against
// the fake configfs-tsm (tests/support/fake_configfs_tsm.h) and a fake metadata server; the
// paths, the QGS address and the metadata URL are injectable (LocalAttesterOptions,
// options_from_environment) for exactly that.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/attester.h"
#include "attest/tdx_gen/tdx_guest_device.h"
#include "core/error.h"

namespace atls::attest::local {

/// The GCP metadata server (interop spec §4.5 step 3).
inline constexpr std::string_view kDefaultGcpMetadataUrl = "http://metadata.google.internal";
/// The upstream TDX guest device (TDREPORTs; on some kernels also quotes).
inline constexpr std::string_view kDefaultTdxGuestDevice = tdx_gen::kDefaultTdxGuestDevice;

/// Environment variables read by options_from_environment (test and advanced knobs,
/// docs/cli.md "Evidence generation").
inline constexpr std::string_view kEnvTsmReportRoot = "ATLS_TSM_REPORT_ROOT";
inline constexpr std::string_view kEnvSevGuestDevice = "ATLS_SEV_GUEST_DEVICE";
inline constexpr std::string_view kEnvGcpMetadataUrl = "ATLS_GCP_METADATA_URL";
inline constexpr std::string_view kEnvTdxGuestDevice = "ATLS_TDX_GUEST_DEVICE";
inline constexpr std::string_view kEnvTdxQgsAddress = "ATLS_TDX_QGS_ADDRESS";

struct LocalAttesterOptions {
  /// The configfs-tsm report directory.
  std::filesystem::path tsm_root;
  /// The SEV-SNP guest device (ioctl path and `auto` probe).
  std::filesystem::path sev_guest_device;
  /// The TDX guest device (TDREPORTs for the device and QGS paths, and the `auto` probe).
  std::filesystem::path tdx_guest_device;
  /// Where the TDX attester reaches the host's QGS when the kernel has neither configfs-tsm nor
  /// TDX_CMD_GET_QUOTE: vsock:CID:PORT, or unix:/path / tcp:IPV4:PORT (tests). Parsed when a TDX
  /// attester is made (tdx_gen.qgs_address_invalid).
  std::string tdx_qgs_address;
  /// Base URL of the GCP metadata server probed by `auto` (http only; tests use 127.0.0.1).
  std::string gcp_metadata_url;
  /// Bound on the GCP probe's connect, request and response (interop spec §4.5: 200 ms). Name
  /// resolution is not bounded by it (net/http_get.h); off GCP the metadata name fails to
  /// resolve at once (NXDOMAIN), and the probe runs only after a TEE was found.
  std::chrono::milliseconds gcp_probe_timeout{200};
  /// How long configfs-tsm attributes may take to appear (TsmClientOptions::attribute_wait;
  /// immediate on a real configfs).
  std::chrono::milliseconds tsm_attribute_wait{2000};

  LocalAttesterOptions();
};

/// Looks up an environment variable; nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Defaults, overridden by the non-empty variables ATLS_TSM_REPORT_ROOT, ATLS_SEV_GUEST_DEVICE,
/// ATLS_TDX_GUEST_DEVICE, ATLS_TDX_QGS_ADDRESS and ATLS_GCP_METADATA_URL. `lookup` defaults to
/// the process environment (getenv).
LocalAttesterOptions options_from_environment(const EnvironmentLookup& lookup = {});

/// Result of the GCP metadata probe.
struct GcpProbe {
  bool on_gcp = false;
  std::string reason;  ///< what the probe saw, for the detection log
};

/// Interop spec §4.5 step 3 in its [tip]/[main] form: `GET <base_url>` without request headers
/// must answer 200 with the response header `Metadata-Flavor: Google` (any other status, a
/// missing header, a timeout or a connection failure → not GCP). Blocking, at most about
/// `timeout` plus name resolution.
GcpProbe probe_gcp(const std::string& base_url, std::chrono::milliseconds timeout);

/// What `auto` found (interop spec §4.5, extended to SEV-SNP).
struct Detection {
  /// The type to attest as; None when no usable TEE evidence source was found.
  AttestationType type = AttestationType::None;
  /// configfs-tsm `provider` read from a probe entry, empty when none could be read.
  std::string tsm_provider;
  bool sev_guest_device = false;  ///< the SEV-SNP guest device is a character device
  bool tdx_guest_device = false;  ///< the TDX guest device is a character device (probed only
                                  ///< when configfs-tsm and the SEV-SNP device found nothing)
  bool gcp = false;               ///< the metadata probe answered as GCP (only probed on a TEE)
  /// One line per probe (what it found or why it failed), in probe order.
  std::vector<std::string> notes;

  /// The notes joined with "; ".
  std::string summary() const;
};

/// `auto` detection. Order:
///   1. configfs-tsm: create and remove one report entry to read `provider` (no report is
///      generated, so no round trip to a quoting service). "tdx_guest" → TDX; "sev_guest" → SNP.
///   2. Otherwise the SEV-SNP guest device: a character device → SNP (ioctl path).
///   3. Otherwise the TDX guest device: a character device → TDX (TDX_CMD_GET_QUOTE or QGS;
///      kernels without configfs-tsm, or configfs-tsm not usable by this user).
///   4. For a TEE: the GCP probe decides gcp-tdx vs dcap-tdx, gcp-snp vs sev-snp. qemu-tdx is
///      never detected (as in flashbots).
///   5. Nothing → none. Azure TDX is not detected (its evidence is not generated by this
///      build).
/// Blocking (file system, one HTTP request); run it at start-up, not on an I/O thread.
Detection detect(const LocalAttesterOptions& options);

/// The attester for `requested_type` (a wire type name or "auto"). `auto` logs what it detected
/// and why (info), including every failed probe when it falls back to none.
/// @return the attester, or attest.unknown_attestation_type, attest.generation_unavailable
/// (azure-tdx), tdx_gen.qgs_address_invalid (a TDX type with a malformed tdx_qgs_address), or
/// the create() errors of the TEE attesters.
Outcome<AttesterPtr> make_attester(std::string_view requested_type,
                                   const LocalAttesterOptions& options = {});

}  // namespace atls::attest::local
