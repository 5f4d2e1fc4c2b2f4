#pragma once
// SEV-SNP evidence generation (docs/verification.md §5.1–5.2) producing the wire format of
// docs/protocol.md §7: the 1184-byte ATTESTATION_REPORT and the host-provided certificate table.
//
// Sources, in order (backend Auto):
//   1. configfs-tsm (Linux ≥ 6.7), provider "sev_guest": outblob = report, auxblob = the GHCB
//      certificate table (empty when the host has no certificates configured);
//   2. /dev/sev-guest: SNP_GET_EXT_REPORT with a certificate buffer, enlarged once to the size
//      the host asks for; SNP_GET_REPORT when certificates are not wanted.
// Fallback from 1 to 2 happens only when configfs-tsm is not usable here (missing, no or
// another provider, no permission), never after a failed generation: both paths end in the
// same kernel driver, so a generation error would only repeat.
//
// The host (hypervisor) is untrusted in the SEV-SNP model: the certificate table it supplies is
// parsed strictly, re-encoded canonically, and checked by the verifier like any evidence. The
// report itself is checked only for what this guest asked for (size, REPORT_DATA, VMPL).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "attest/attester.h"
#include "attest/snp/sev_guest_device.h"
#include "attest/tsm/tsm_client.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

enum class SnpBackend {
  Auto,         ///< configfs-tsm, else /dev/sev-guest
  ConfigfsTsm,  ///< configfs-tsm only
  Device,       ///< /dev/sev-guest only
};

struct SnpAttesterOptions {
  /// `sev-snp` or `gcp-snp` (same evidence; the type only labels it).
  AttestationType type = AttestationType::SevSnp;
  SnpBackend backend = SnpBackend::Auto;
  /// VMPL requested for the report (configfs `privlevel`, ioctl `vmpl`), 0–3. A guest running
  /// above VMPL0 (under an SVSM) must ask for its own level or higher.
  std::uint32_t vmpl = 0;
  /// configfs-tsm settings (root, waits, concurrency). expected_provider is forced to
  /// "sev_guest".
  tsm::TsmClientOptions tsm;
  /// The device used by the ioctl path. Null: LinuxSevGuestDevice(device_path).
  SevGuestDevicePtr device;
  std::filesystem::path device_path{std::string(kDefaultSevGuestDevice)};
  /// ioctl path: SNP_GET_EXT_REPORT (with certificates) or SNP_GET_REPORT (without).
  bool device_certificates = true;
  /// First certificate buffer (rounded up to whole 4 KiB pages). The kernel accepts at most
  /// SEV_FW_BLOB_MAX_SIZE (16 KiB) today; a VCEK, ASK and ARK take about 5 KiB.
  std::size_t initial_cert_buffer = std::size_t{16} * 1024;
  /// Larger buffers the host asks for are refused (snp.device_cert_buffer_too_large).
  std::size_t max_cert_buffer = std::size_t{64} * 1024;
  /// ioctl retries while the device reports busy (EAGAIN/EBUSY or VMM error BUSY: newer
  /// kernels throttle guest requests), with exponential delays from busy_delay.
  unsigned busy_retries = 5;
  std::chrono::milliseconds busy_delay{20};
  /// false: leave the certificate table out of the evidence (the verifier then needs the
  /// VCEK from its KDS cache).
  bool include_certificates = true;
};

class SnpAttester final : public Attester {
 public:
  /// @return the attester, or snp.unsupported_attestation_type (type not sev-snp/gcp-snp) or
  /// tsm.privlevel_out_of_range (vmpl > 3). Does not touch the system: availability is
  /// checked on each generate() (see detect_snp for `auto`).
  static Outcome<std::shared_ptr<SnpAttester>> create(SnpAttesterOptions options);

  AttestationType type() const noexcept override { return options_.type; }

  /// Evidence binding `report_data`. Blocking; run it on the attestation pool.
  /// @par Thread Safety
  /// Safe to call concurrently.
  Result<Bytes> generate(const ReportData& report_data) const override;

  /// generate() with a human-readable detail on failure. Errors: the tsm.* codes of
  /// TsmClient::generate; snp.generation_unavailable, device_open_failed,
  /// device_request_failed (errno, firmware and VMM error in the detail), device_busy,
  /// device_cert_buffer_too_large, firmware_error, generated_report_invalid,
  /// generated_report_data_mismatch, generated_vmpl_mismatch, generated_cert_table_invalid,
  /// evidence_too_large.
  Outcome<Bytes> generate_evidence(const ReportData& report_data) const override;

  const SnpAttesterOptions& options() const noexcept { return options_; }

  explicit SnpAttester(SnpAttesterOptions options);

 private:
  struct Raw {
    Bytes report;
    Bytes cert_table;  ///< as returned (may carry page padding), empty for none
  };
  Outcome<Raw> from_tsm(const ReportData& report_data) const;
  Outcome<Raw> from_device(const ReportData& report_data) const;
  int device_call(unsigned long request, snp_guest_request_ioctl& arg) const;
  bool device_present() const;

  SnpAttesterOptions options_;
  tsm::TsmClient tsm_;
  std::shared_ptr<const LinuxSevGuestDevice> linux_device_;  ///< set when not injected
  SevGuestDevicePtr device_;
};

/// Builds docs/protocol.md §7 evidence from what the kernel returned: checks that `report` is 1184
/// bytes with REPORT_DATA == `expected` and VMPL == `vmpl`, parses `cert_table` strictly
/// (empty = no certificates; the kernel's zero page padding is accepted), and re-encodes it
/// canonically. Entries with GUIDs the verifier does not use are dropped if the table would
/// otherwise exceed kMaxCertTableSize. Never reads outside its inputs.
/// Errors: generated_report_invalid, generated_report_data_mismatch, generated_vmpl_mismatch,
/// generated_cert_table_invalid (the cert_table_* reason in the detail), evidence_too_large.
Outcome<Bytes> assemble_evidence(ByteView report, ByteView cert_table, const ReportData& expected,
                                 std::uint32_t vmpl);

/// Whether SEV-SNP evidence can be generated here (the `auto` attestation type, interop spec
/// §4.5 extended to SNP). No network; no report is generated.
struct SnpDetection {
  bool configfs_tsm = false;  ///< an entry could be created and its provider is "sev_guest"
  bool device = false;        ///< the device path is a character device
  std::string tsm_provider;   ///< the provider read, if any ("tdx_guest" on TDX)
  bool available() const noexcept { return configfs_tsm || device; }
};

/// Probes configfs-tsm (creates and removes one entry to read `provider`) and the device.
/// Blocking and cheap. GCP (gcp-snp) detection needs the metadata server and is not done here.
SnpDetection detect_snp(
    const std::filesystem::path& tsm_root = std::string(tsm::kDefaultReportRoot),
    const std::filesystem::path& device = std::string(kDefaultSevGuestDevice));

}  // namespace atls::attest::snp
