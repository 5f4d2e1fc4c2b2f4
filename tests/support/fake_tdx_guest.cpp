#include "support/fake_tdx_guest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "attest/tdx_gen/qgs_message.h"

namespace atls::testing {
namespace {

namespace tdx_gen = attest::tdx_gen;

void store_le(std::span<std::uint8_t> buffer, std::size_t offset, std::uint64_t value,
              std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    buffer[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

}  // namespace

FakeTdxGuestDevice::FakeTdxGuestDevice(FakeQgsHandler qgs, int unsupported_errno)
    : qgs_(std::move(qgs)),
      unsupported_errno_(unsupported_errno != 0 ? unsupported_errno : ENOTTY) {}

tdx_gen::TdReport FakeTdxGuestDevice::make_report(const attest::ReportData& report_data) {
  tdx_gen::TdReport report{};
  for (std::size_t i = 0; i < report.size(); ++i) {
    report[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  report[0] = 0x81;  // REPORTTYPE.TYPE: TDX
  report[1] = 0;
  report[2] = 0;
  report[3] = 0;
  std::copy(report_data.begin(), report_data.end(), report.begin() + tdx_gen::kTdReportDataOffset);
  return report;
}

void FakeTdxGuestDevice::inject_report_failure(int error) {
  std::lock_guard lock(mutex_);
  report_failure_ = error;
}

void FakeTdxGuestDevice::inject_quote_errno(int error, unsigned count) {
  std::lock_guard lock(mutex_);
  for (unsigned i = 0; i < count; ++i) {
    injected_.push_back({error, std::nullopt, std::nullopt});
  }
}

void FakeTdxGuestDevice::inject_status(std::uint64_t status, unsigned count) {
  std::lock_guard lock(mutex_);
  for (unsigned i = 0; i < count; ++i) {
    injected_.push_back({0, status, std::nullopt});
  }
}

void FakeTdxGuestDevice::inject_payload(Bytes payload, std::uint32_t out_len) {
  std::lock_guard lock(mutex_);
  injected_.push_back({0, std::nullopt, std::make_pair(std::move(payload), out_len)});
}

std::vector<attest::ReportData> FakeTdxGuestDevice::reports() const {
  std::lock_guard lock(mutex_);
  return reports_;
}

std::size_t FakeTdxGuestDevice::quote_calls() const {
  std::lock_guard lock(mutex_);
  return quote_calls_;
}

int FakeTdxGuestDevice::get_report0(const attest::ReportData& report_data,
                                    tdx_gen::TdReport& report) const {
  {
    std::lock_guard lock(mutex_);
    reports_.push_back(report_data);
    if (report_failure_ != 0) {
      return std::exchange(report_failure_, 0);
    }
  }
  report = make_report(report_data);
  return 0;
}

int FakeTdxGuestDevice::get_quote(std::span<std::uint8_t> buffer) const {
  Injected injected;
  {
    std::lock_guard lock(mutex_);
    ++quote_calls_;
    if (!qgs_) {
      return unsupported_errno_;
    }
    if (!injected_.empty()) {
      injected = std::move(injected_.front());
      injected_.pop_front();
    }
  }
  if (injected.error != 0) {
    return injected.error;
  }
  // The kernel's and VMM's checks of the shared buffer.
  if (buffer.size() < tdx_gen::kGetQuoteHeaderSize) {
    return EINVAL;
  }
  const auto header = tdx_gen::read_get_quote_header(buffer);
  const std::size_t room = buffer.size() - tdx_gen::kGetQuoteHeaderSize;
  if (header.version != tdx_gen::kGetQuoteVersion || header.in_len > room ||
      header.in_len < tdx_gen::kQgsFrameLengthSize) {
    return EINVAL;
  }
  const auto payload = buffer.subspan(tdx_gen::kGetQuoteHeaderSize);
  if (injected.status) {
    store_le(buffer, 8, *injected.status, 8);
    return 0;
  }
  Bytes answer;
  std::uint32_t out_len = 0;
  if (injected.payload) {
    answer = std::move(injected.payload->first);
    out_len = injected.payload->second;
  } else {
    const std::uint32_t length =
        tdx_gen::read_frame_length(payload.first<tdx_gen::kQgsFrameLengthSize>());
    if (static_cast<std::uint64_t>(length) + tdx_gen::kQgsFrameLengthSize != header.in_len) {
      store_le(buffer, 8, tdx_gen::kGetQuoteError, 8);
      return 0;
    }
    const Bytes request(payload.begin() + tdx_gen::kQgsFrameLengthSize,
                        payload.begin() + tdx_gen::kQgsFrameLengthSize + length);
    const FakeQgsReply reply = qgs_(request);
    if (reply.close_without_reply) {
      // The VMM lost the QGS connection.
      store_le(buffer, 8, tdx_gen::kGetQuoteError, 8);
      return 0;
    }
    answer = reply.raw ? *reply.raw : tdx_gen::frame_qgs_message(reply.message);
    out_len = static_cast<std::uint32_t>(answer.size());
  }
  if (answer.size() > room) {
    store_le(buffer, 8, tdx_gen::kGetQuoteError, 8);  // the VMM cannot fit the answer
    return 0;
  }
  std::fill(payload.begin(), payload.end(), 0);
  std::copy(answer.begin(), answer.end(), payload.begin());
  store_le(buffer, 8, tdx_gen::kGetQuoteSuccess, 8);
  store_le(buffer, 20, out_len, 4);
  return 0;
}

}  // namespace atls::testing
