#include "support/fake_sev_guest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace atls::testing {
namespace {

constexpr std::uint32_t kPageSize = 4096;
constexpr std::uint32_t kBlobMax = 16 * 1024;  // SEV_FW_BLOB_MAX_SIZE

void write_response(const FakeSevGuestResponse& generated, snp_report_resp& response) {
  std::memset(response.data, 0, sizeof(response.data));
  attest::snp::SnpReportResponseHeader header{};
  header.status = generated.status;
  header.report_size = static_cast<std::uint32_t>(generated.report.size());
  std::memcpy(response.data, &header, sizeof(header));
  const std::size_t room = sizeof(response.data) - sizeof(header);
  std::memcpy(response.data + sizeof(header), generated.report.data(),
              std::min(room, generated.report.size()));
}

}  // namespace

FakeSevGuestDevice::FakeSevGuestDevice(FakeSevGuestGenerator generator)
    : generator_(std::move(generator)) {}

void FakeSevGuestDevice::inject_busy(unsigned count) {
  std::lock_guard lock(mutex_);
  busy_ += count;
}

void FakeSevGuestDevice::inject_failure(int error, std::uint32_t firmware_error) {
  std::lock_guard lock(mutex_);
  failure_ = error;
  failure_firmware_ = firmware_error;
}

std::vector<FakeSevGuestCall> FakeSevGuestDevice::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

int FakeSevGuestDevice::guest_request(unsigned long request, snp_guest_request_ioctl& arg) const {
  FakeSevGuestCall call;
  call.request = request;
  if (request == SNP_GET_EXT_REPORT && arg.req_data != 0) {
    call.certs_len = reinterpret_cast<const snp_ext_report_req*>(arg.req_data)->certs_len;
  }
  const int result = handle(request, arg);
  call.result = result;
  std::lock_guard lock(mutex_);
  calls_.push_back(call);
  return result;
}

int FakeSevGuestDevice::handle(unsigned long request, snp_guest_request_ioctl& arg) const {
  // snp_guest_ioctl(): message version must be non-zero.
  if (arg.msg_version == 0) {
    return EINVAL;
  }
  if (request != SNP_GET_REPORT && request != SNP_GET_EXT_REPORT) {
    return ENOTTY;
  }
  if (arg.req_data == 0 || arg.resp_data == 0) {
    return EINVAL;
  }
  {
    std::lock_guard lock(mutex_);
    if (busy_ > 0) {
      --busy_;
      arg.exitinfo2 = static_cast<std::uint64_t>(SNP_GUEST_VMM_ERR_BUSY) << 32;
      return EAGAIN;
    }
    if (failure_ != 0) {
      const int error = std::exchange(failure_, 0);
      arg.exitinfo2 = failure_firmware_;
      return error;
    }
  }
  auto* response = reinterpret_cast<snp_report_resp*>(arg.resp_data);
  FakeSevGuestRequest fake_request;
  if (request == SNP_GET_REPORT) {
    const auto* req = reinterpret_cast<const snp_report_req*>(arg.req_data);
    std::memcpy(fake_request.user_data.data(), req->user_data, sizeof(req->user_data));
    fake_request.vmpl = req->vmpl;
    write_response(generator_(fake_request), *response);
    arg.exitinfo2 = 0;
    return 0;
  }
  // get_ext_report().
  auto* req = reinterpret_cast<snp_ext_report_req*>(arg.req_data);
  const bool wants_certs = req->certs_len != 0 && req->certs_address != 0;
  if (wants_certs && (req->certs_len > kBlobMax || req->certs_len % kPageSize != 0)) {
    return EINVAL;
  }
  std::memcpy(fake_request.user_data.data(), req->data.user_data, sizeof(req->data.user_data));
  fake_request.vmpl = req->data.vmpl;
  fake_request.extended = true;
  const FakeSevGuestResponse generated = generator_(fake_request);
  if (wants_certs) {
    const auto needed = static_cast<std::uint32_t>((generated.cert_table.size() + kPageSize - 1) /
                                                   kPageSize * kPageSize);
    if (needed > req->certs_len) {
      // The host answers "invalid length" with the pages it needs; the kernel reissues a plain
      // request to keep the message sequence numbers in step, then fails with EIO.
      req->certs_len = needed;
      arg.exitinfo2 = static_cast<std::uint64_t>(SNP_GUEST_VMM_ERR_INVALID_LEN) << 32;
      return EIO;
    }
    auto* certs = reinterpret_cast<std::uint8_t*>(req->certs_address);
    std::memset(certs, 0, req->certs_len);
    if (!generated.cert_table.empty()) {  // memcpy from an empty vector's null data() is UB
      std::memcpy(certs, generated.cert_table.data(), generated.cert_table.size());
    }
  }
  write_response(generated, *response);
  arg.exitinfo2 = 0;
  return 0;
}

}  // namespace atls::testing
