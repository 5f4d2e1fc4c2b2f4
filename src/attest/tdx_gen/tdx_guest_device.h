#pragma once
// The Linux /dev/tdx_guest ioctl interface (docs/verification.md §5.3) behind a small interface,
// so that the TDX attester's device and QGS paths can be tested with a fake device
// (tests/support/fake_tdx_guest.h). Modelled on attest/snp/sev_guest_device.h.
//
// Two ioctls:
//   * TDX_CMD_GET_REPORT0 (upstream since Linux 6.2, include/uapi/linux/tdx-guest.h): the
//     TDREPORT_STRUCT over 64 bytes of REPORTDATA (TDG.MR.REPORT, TDX module spec).
//   * TDX_CMD_GET_QUOTE (Intel's and some distribution kernels only; upstream Linux went to
//     configfs-tsm instead): the TD's buffer, a GetQuote header {version u64 = 1, status u64,
//     in_len u32, out_len u32} followed by the payload, is handed to the VMM with
//     TDG.VP.VMCALL<GetQuote> (Intel TDX GHCI spec, "TDG.VP.VMCALL<GetQuote>"). With Intel's
//     host stack the payload is a 4-byte big-endian length plus a QGS message in both
//     directions (qgs_message.h).
//
// Debian 12's linux-libc-dev (6.1) has no <linux/tdx-guest.h>, so the UAPI structures are
// defined here; sizes and ioctl numbers are checked against verification.md §5.3 at compile
// time.

#include <linux/ioctl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "attest/claims.h"

namespace atls::attest::tdx_gen {

inline constexpr std::string_view kDefaultTdxGuestDevice = "/dev/tdx_guest";

/// TDREPORT_STRUCT (Intel TDX module ABI): REPORTMACSTRUCT (256 bytes), TEE_TCB_INFO (239),
/// reserved (17), TDINFO_STRUCT (512).
inline constexpr std::size_t kTdReportSize = 1024;
/// REPORTMACSTRUCT: REPORTTYPE (4), reserved (12), CPUSVN (16), TEE_TCB_INFO_HASH (48),
/// TEE_INFO_HASH (48), then REPORTDATA (64).
inline constexpr std::size_t kTdReportDataOffset = 128;
using TdReport = std::array<std::uint8_t, kTdReportSize>;

/// struct tdx_report_req (include/uapi/linux/tdx-guest.h).
struct TdxReportRequest {
  std::uint8_t reportdata[64];
  std::uint8_t tdreport[kTdReportSize];
};

/// struct tdx_quote_req of the legacy ioctl: user pointer and length of the GetQuote buffer.
struct TdxQuoteRequest {
  std::uint64_t buf;
  std::uint64_t len;
};

/// The GetQuote buffer header (GHCI spec, TDG.VP.VMCALL<GetQuote> "shared buffer" layout), in
/// little-endian byte order like everything the TD exchanges with the VMM.
struct GetQuoteHeader {
  std::uint64_t version;  ///< kGetQuoteVersion, set by the TD
  std::uint64_t status;   ///< kGetQuote* below, set by the VMM
  std::uint32_t in_len;   ///< payload bytes sent, set by the TD
  std::uint32_t out_len;  ///< payload bytes returned, set by the VMM
};

inline constexpr std::uint64_t kGetQuoteVersion = 1;
inline constexpr std::uint64_t kGetQuoteSuccess = 0;
inline constexpr std::uint64_t kGetQuoteInFlight = 0xFFFFFFFFFFFFFFFFULL;
inline constexpr std::uint64_t kGetQuoteError = 0x8000000000000000ULL;
inline constexpr std::uint64_t kGetQuoteServiceUnavailable = 0x8000000000000001ULL;
inline constexpr std::size_t kGetQuoteHeaderSize = 24;
/// The buffer handed to TDX_CMD_GET_QUOTE: 4 pages, as Intel's libtdx_attest uses (a quote with
/// its PCK chain is about 5 KiB).
inline constexpr std::size_t kGetQuoteBufferSize = std::size_t{4} * 4096;

/// _IOWR('T', 1, struct tdx_report_req) and _IOWR('T', 2, struct tdx_quote_req).
inline constexpr unsigned long kTdxCmdGetReport0 = _IOWR('T', 1, TdxReportRequest);
inline constexpr unsigned long kTdxCmdGetQuote = _IOWR('T', 2, TdxQuoteRequest);

static_assert(sizeof(TdxReportRequest) == 64 + 1024, "verification.md §5.3");
static_assert(sizeof(TdxQuoteRequest) == 16, "verification.md §5.3");
static_assert(sizeof(GetQuoteHeader) == kGetQuoteHeaderSize, "verification.md §5.3");
static_assert(kTdxCmdGetReport0 == 0xC4405401UL && kTdxCmdGetQuote == 0xC0105402UL,
              "verification.md §5.3");

/// A TDX guest device.
class TdxGuestDevice {
 public:
  virtual ~TdxGuestDevice() = default;

  /// TDX_CMD_GET_REPORT0: the TDREPORT whose REPORTDATA is `report_data`.
  /// @return 0 or the errno of the failed call.
  /// @par Thread Safety
  /// Safe to call concurrently.
  virtual int get_report0(const ReportData& report_data, TdReport& report) const = 0;

  /// TDX_CMD_GET_QUOTE with `buffer` (GetQuoteHeader, then the payload), kernel semantics: the
  /// call returns when the VMM completed or gave up; the header's status and out_len and the
  /// payload are then what the VMM wrote. ENOTTY (or EINVAL on some kernels) means the kernel
  /// has no such ioctl; EBUSY that another request is being served.
  /// @return 0 or the errno of the failed call.
  /// @par Thread Safety
  /// Safe to call concurrently (each call has its own buffer).
  virtual int get_quote(std::span<std::uint8_t> buffer) const = 0;
};

using TdxGuestDevicePtr = std::shared_ptr<const TdxGuestDevice>;

/// The real device: opens `path` read-write on first use and keeps the descriptor.
class LinuxTdxGuestDevice final : public TdxGuestDevice {
 public:
  explicit LinuxTdxGuestDevice(std::filesystem::path path = std::string(kDefaultTdxGuestDevice));
  ~LinuxTdxGuestDevice() override;
  LinuxTdxGuestDevice(const LinuxTdxGuestDevice&) = delete;
  LinuxTdxGuestDevice& operator=(const LinuxTdxGuestDevice&) = delete;

  /// Opens the device if it is not open yet. @return 0 or the errno of open().
  int open() const;
  /// Both calls fail with the errno of open() if the device cannot be opened; use open() first
  /// to tell the two apart.
  int get_report0(const ReportData& report_data, TdReport& report) const override;
  int get_quote(std::span<std::uint8_t> buffer) const override;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  int call(unsigned long request, void* argument) const;

  std::filesystem::path path_;
  mutable std::mutex mutex_;
  mutable int fd_ = -1;
};

}  // namespace atls::attest::tdx_gen
