#pragma once
// The Linux /dev/sev-guest ioctl interface (include/uapi/linux/sev-guest.h; docs/verification.md
// §5.2) behind a small interface, so that the SEV-SNP attester's request/response handling can
// be tested with a fake device (tests/support/fake_sev_guest.h).
//
// The request structures come from the kernel UAPI header (Debian 12's linux-libc-dev 6.1 has
// all of them); only the response header is kernel-internal and defined here. Sizes and ioctl
// numbers are checked against docs/verification.md §5.2 at compile time.

// The UAPI header uses _IOWR without including its definition.
#include <linux/ioctl.h>
#include <linux/sev-guest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"

namespace atls::attest::snp {

inline constexpr std::string_view kDefaultSevGuestDevice = "/dev/sev-guest";

/// The ioctl numbers (_IOWR('S', n, struct snp_guest_request_ioctl)).
inline constexpr unsigned long kSnpGetReport = SNP_GET_REPORT;
inline constexpr unsigned long kSnpGetExtReport = SNP_GET_EXT_REPORT;

/// VMM error codes in the high 32 bits of exitinfo2 (SNP_GUEST_VMM_ERR_*).
inline constexpr std::uint32_t kVmmErrorInvalidLength = SNP_GUEST_VMM_ERR_INVALID_LEN;
inline constexpr std::uint32_t kVmmErrorBusy = SNP_GUEST_VMM_ERR_BUSY;

/// The guest request message version the kernel expects (must be non-zero; 1 today).
inline constexpr std::uint8_t kGuestMessageVersion = 1;

/// Header of the MSG_REPORT_RSP payload in `snp_report_resp.data` (SEV-SNP ABI spec table
/// "MSG_REPORT_RSP Message Structure"; the kernel's private struct snp_msg_report_resp_hdr):
/// status u32 (0 = success), report_size u32, 24 reserved bytes, then the report.
struct SnpReportResponseHeader {
  std::uint32_t status;
  std::uint32_t report_size;
  std::uint8_t reserved[24];
};

static_assert(sizeof(snp_guest_request_ioctl) == 32, "verification.md §5.2");
static_assert(sizeof(snp_report_req) == 96, "user_data[64], vmpl u32, rsvd[28]");
static_assert(sizeof(snp_report_resp) == 4000, "verification.md §5.2");
static_assert(sizeof(snp_ext_report_req) == 112, "report request + certs_address + certs_len");
static_assert(sizeof(SnpReportResponseHeader) == 32);
static_assert(kSnpGetReport == 0xC0205300UL && kSnpGetExtReport == 0xC0205302UL,
              "verification.md §5.2");

/// A /dev/sev-guest device.
class SevGuestDevice {
 public:
  virtual ~SevGuestDevice() = default;

  /// ioctl(fd, `request`, &arg) with the kernel's semantics: on return `arg.exitinfo2` holds
  /// the firmware error (low 32 bits) and VMM error (high 32 bits); for SNP_GET_EXT_REPORT with
  /// a too small certificate buffer the kernel fails with EIO, sets the VMM error to
  /// kVmmErrorInvalidLength and writes the needed size to the request's `certs_len`.
  ///
  /// @return 0 or the errno of the failed call.
  /// @par Thread Safety
  /// Safe to call concurrently (the kernel serialises guest requests).
  virtual int guest_request(unsigned long request, snp_guest_request_ioctl& arg) const = 0;
};

using SevGuestDevicePtr = std::shared_ptr<const SevGuestDevice>;

/// The real device: opens `path` read-write on first use and keeps the descriptor.
class LinuxSevGuestDevice final : public SevGuestDevice {
 public:
  explicit LinuxSevGuestDevice(std::filesystem::path path = std::string(kDefaultSevGuestDevice));
  ~LinuxSevGuestDevice() override;
  LinuxSevGuestDevice(const LinuxSevGuestDevice&) = delete;
  LinuxSevGuestDevice& operator=(const LinuxSevGuestDevice&) = delete;

  /// Opens the device if it is not open yet. @return 0 or the errno of open().
  int open() const;
  /// guest_request() fails with the errno of open() (e.g. ENOENT, EACCES) if the device
  /// cannot be opened; use open() first to tell the two apart.
  int guest_request(unsigned long request, snp_guest_request_ioctl& arg) const override;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  mutable std::mutex mutex_;
  mutable int fd_ = -1;
};

}  // namespace atls::attest::snp
