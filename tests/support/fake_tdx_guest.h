#pragma once
// A fake /dev/tdx_guest (src/attest/tdx_gen/tdx_guest_device.h; docs/verification.md §5.3) for
// the TDX attester's device and QGS paths:
//   * TDX_CMD_GET_REPORT0 returns a synthetic 1024-byte TDREPORT: REPORTTYPE 0x81 (TDX), a fixed
//     filler, and the requested REPORTDATA at offset 128 (REPORTMACSTRUCT). It is not MAC'd:
//     nothing in this repository can check a TDREPORT MAC (only the TDX module can).
//   * TDX_CMD_GET_QUOTE plays the legacy kernel plus Intel's host stack: it checks the GetQuote
//     header (version 1, in_len within the buffer, the big-endian length prefix) like the kernel
//     and VMM would (EINVAL otherwise), hands the QGS request message to the handler (the QGS),
//     and writes the framed answer back with status GET_QUOTE_SUCCESS and out_len. Without a
//     handler the kernel has no such ioctl (ENOTTY, like upstream Linux), see unsupported_errno.
// Failures can be injected: errno of either ioctl, GetQuote statuses (in flight, error, service
// unavailable), and raw payloads with an arbitrary out_len.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "attest/claims.h"
#include "attest/tdx_gen/tdx_guest_device.h"
#include "support/fake_qgs.h"

namespace atls::testing {

class FakeTdxGuestDevice final : public attest::tdx_gen::TdxGuestDevice {
 public:
  /// `qgs` answers TDX_CMD_GET_QUOTE; null: the ioctl does not exist (unsupported_errno).
  explicit FakeTdxGuestDevice(FakeQgsHandler qgs = nullptr, int unsupported_errno = 0);

  int get_report0(const attest::ReportData& report_data,
                  attest::tdx_gen::TdReport& report) const override;
  int get_quote(std::span<std::uint8_t> buffer) const override;

  /// The next TDX_CMD_GET_REPORT0 fails with `error`.
  void inject_report_failure(int error);
  /// The next `count` TDX_CMD_GET_QUOTE calls fail with `error` (e.g. EBUSY, EIO).
  void inject_quote_errno(int error, unsigned count = 1);
  /// The next `count` TDX_CMD_GET_QUOTE calls return `status` (the payload is left alone).
  void inject_status(std::uint64_t status, unsigned count = 1);
  /// The next TDX_CMD_GET_QUOTE returns `payload` with `out_len` (success status).
  void inject_payload(Bytes payload, std::uint32_t out_len);

  /// The REPORTDATA of every TDX_CMD_GET_REPORT0, in order.
  std::vector<attest::ReportData> reports() const;
  std::size_t quote_calls() const;

  /// The synthetic TDREPORT for `report_data`.
  static attest::tdx_gen::TdReport make_report(const attest::ReportData& report_data);

 private:
  struct Injected {
    int error = 0;
    std::optional<std::uint64_t> status;
    std::optional<std::pair<Bytes, std::uint32_t>> payload;
  };

  FakeQgsHandler qgs_;
  int unsupported_errno_;
  mutable std::mutex mutex_;
  mutable int report_failure_ = 0;
  mutable std::deque<Injected> injected_;
  mutable std::vector<attest::ReportData> reports_;
  mutable std::size_t quote_calls_ = 0;
};

}  // namespace atls::testing
