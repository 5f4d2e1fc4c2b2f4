#pragma once
// A fake /dev/sev-guest (the kernel's drivers/virt/coco/sev-guest ioctl handling) for the
// SEV-SNP attester's ioctl path. It follows the kernel's checks and answers:
//   * msg_version 0, null request/response pointers → EINVAL; unknown ioctl → ENOTTY;
//   * SNP_GET_EXT_REPORT: certs_len must be a page multiple ≤ 16 KiB (SEV_FW_BLOB_MAX_SIZE)
//     else EINVAL; certs_len/certs_address 0 → no certificates; host certificates larger than
//     certs_len → EIO with VMM error INVALID_LEN and the needed size written back to certs_len;
//   * a throttled host → EAGAIN with VMM error BUSY (inject_busy);
//   * the response buffer gets {status, report_size, reserved[24], report}; the certificate
//     buffer gets the host's table followed by zeros (page padding).
// The generator callback plays the firmware: it signs a report for the request (e.g. with
// the INSECURE MOCK SNP attester).

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "attest/claims.h"
#include "attest/snp/sev_guest_device.h"
#include "core/bytes.h"

namespace atls::testing {

struct FakeSevGuestRequest {
  attest::ReportData user_data{};
  std::uint32_t vmpl = 0;
  bool extended = false;  ///< SNP_GET_EXT_REPORT
};

struct FakeSevGuestResponse {
  Bytes report;              ///< copied after the header (report_size = its size)
  std::uint32_t status = 0;  ///< MSG_REPORT_RSP status (0 = success)
  Bytes cert_table;          ///< what the host supplies to SNP_GET_EXT_REPORT
};

using FakeSevGuestGenerator = std::function<FakeSevGuestResponse(const FakeSevGuestRequest&)>;

/// One ioctl as the fake saw it.
struct FakeSevGuestCall {
  unsigned long request = 0;
  std::uint32_t certs_len = 0;  ///< as passed in
  int result = 0;               ///< errno returned (0 = success)
};

class FakeSevGuestDevice final : public attest::snp::SevGuestDevice {
 public:
  explicit FakeSevGuestDevice(FakeSevGuestGenerator generator);

  int guest_request(unsigned long request, snp_guest_request_ioctl& arg) const override;

  /// The next `count` requests fail as throttled (EAGAIN, VMM error BUSY).
  void inject_busy(unsigned count);
  /// The next request fails with `error` and firmware error `firmware_error`.
  void inject_failure(int error, std::uint32_t firmware_error);

  std::vector<FakeSevGuestCall> calls() const;

 private:
  int handle(unsigned long request, snp_guest_request_ioctl& arg) const;

  FakeSevGuestGenerator generator_;
  mutable std::mutex mutex_;
  mutable unsigned busy_ = 0;
  mutable int failure_ = 0;
  mutable std::uint32_t failure_firmware_ = 0;
  mutable std::vector<FakeSevGuestCall> calls_;
};

}  // namespace atls::testing
