#include "attest/snp/snp_attester.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>

#include "attest/snp/cert_table.h"
#include "attest/snp/errors.h"
#include "attest/snp/evidence.h"
#include "attest/snp/little_endian.h"
#include "attest/snp/report.h"
#include "attest/tsm/errors.h"

namespace atls::attest::snp {
namespace {

constexpr std::size_t kPageSize = 4096;
// ATTESTATION_REPORT offsets (SEV-SNP ABI spec table "ATTESTATION_REPORT Structure").
constexpr std::size_t kVmplOffset = 0x30;
constexpr std::size_t kReportDataOffset = 0x50;
// A larger certificate buffer is asked for at most this many times per request.
constexpr int kMaxBufferResizes = 2;

Failure fail(Errc code, std::string detail = {}) {
  return Failure{make_error_code(code), std::move(detail)};
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::size_t round_to_pages(std::size_t size) {
  return std::max<std::size_t>(kPageSize, (size + kPageSize - 1) / kPageSize * kPageSize);
}

// A zeroed, page-aligned buffer: SNP_GET_EXT_REPORT wants whole pages (the kernel checks
// certs_len is page-aligned and shares the pages with the host).
class PageBuffer {
 public:
  explicit PageBuffer(std::size_t size)
      : size_(size), data_(static_cast<std::uint8_t*>(std::aligned_alloc(kPageSize, size))) {
    if (data_ != nullptr) {
      std::memset(data_, 0, size_);
    }
  }
  ~PageBuffer() { std::free(data_); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  std::uint8_t* data_;
};

std::string request_detail(int error, const snp_guest_request_ioctl& arg) {
  const auto firmware = static_cast<std::uint32_t>(arg.exitinfo2 & 0xffffffffULL);
  const auto vmm = static_cast<std::uint32_t>(arg.exitinfo2 >> 32);
  return errno_text(error) + " (firmware error " + std::to_string(firmware) + ", VMM error " +
         std::to_string(vmm) + ")";
}

bool is_busy(int error, const snp_guest_request_ioctl& arg) {
  const auto vmm = static_cast<std::uint32_t>(arg.exitinfo2 >> 32);
  return error == EAGAIN || error == EBUSY || (error != 0 && vmm == kVmmErrorBusy);
}

// Whether configfs-tsm is unusable here, as opposed to having failed to generate.
bool tsm_not_usable(const ErrorCode& code) {
  return code == tsm::Errc::Unavailable || code == tsm::Errc::NoProvider ||
         code == tsm::Errc::ProviderMismatch || code == tsm::Errc::PermissionDenied;
}

// The MSG_REPORT_RSP in `response`: status, size, report (SEV-SNP ABI spec).
Outcome<Bytes> report_from_response(const snp_report_resp& response) {
  SnpReportResponseHeader header{};
  std::memcpy(&header, response.data, sizeof(header));
  if (header.status != 0) {
    return fail(Errc::FirmwareError, "status " + std::to_string(header.status));
  }
  if (header.report_size != kReportSize ||
      sizeof(header) + header.report_size > sizeof(response.data)) {
    return fail(Errc::GeneratedReportInvalid, "report size " + std::to_string(header.report_size));
  }
  const std::uint8_t* report = response.data + sizeof(header);
  return Bytes(report, report + kReportSize);
}

}  // namespace

Outcome<Bytes> assemble_evidence(ByteView report, ByteView cert_table, const ReportData& expected,
                                 std::uint32_t vmpl) {
  if (report.size() != kReportSize) {
    return fail(Errc::GeneratedReportInvalid, std::to_string(report.size()) + " bytes");
  }
  if (!std::equal(expected.begin(), expected.end(), report.begin() + kReportDataOffset)) {
    // A report for someone else's input (a racing writer, a confused host) must never be sent.
    return fail(Errc::GeneratedReportDataMismatch);
  }
  const std::uint32_t report_vmpl = detail::load_le32(report, kVmplOffset);
  if (report_vmpl != vmpl) {
    return fail(Errc::GeneratedVmplMismatch, "report VMPL " + std::to_string(report_vmpl) +
                                                 ", requested " + std::to_string(vmpl));
  }
  auto table = parse_cert_table(cert_table);
  if (!table) {
    return fail(Errc::GeneratedCertTableInvalid, error_id(table.error()));
  }
  Bytes encoded = encode_cert_table(*table);
  if (!table->empty() && encoded.size() > kMaxCertTableSize) {
    // Keep what the verifier uses (docs/protocol.md §7.2); extra platform data can go.
    std::erase_if(table->entries, [](const CertTableEntry& entry) {
      return !(entry.guid == guids::vcek() || entry.guid == guids::vlek() ||
               entry.guid == guids::ask() || entry.guid == guids::ark());
    });
    encoded = encode_cert_table(*table);
    if (encoded.size() > kMaxCertTableSize) {
      return fail(Errc::EvidenceTooLarge,
                  "certificate table of " + std::to_string(encoded.size()) + " bytes");
    }
  }
  return encode_evidence(report, *table);
}

SnpAttester::SnpAttester(SnpAttesterOptions options)
    : options_([&options] {
        options.tsm.expected_provider = std::string(tsm::providers::kSevGuest);
        options.initial_cert_buffer = round_to_pages(options.initial_cert_buffer);
        options.max_cert_buffer =
            std::max(options.initial_cert_buffer, round_to_pages(options.max_cert_buffer));
        return std::move(options);
      }()),
      tsm_(options_.tsm),
      linux_device_(options_.device
                        ? nullptr
                        : std::make_shared<const LinuxSevGuestDevice>(options_.device_path)),
      device_(options_.device ? options_.device : linux_device_) {}

Outcome<std::shared_ptr<SnpAttester>> SnpAttester::create(SnpAttesterOptions options) {
  if (options.type != AttestationType::SevSnp && options.type != AttestationType::GcpSnp) {
    return fail(Errc::UnsupportedAttestationType, std::string(to_string(options.type)));
  }
  if (options.vmpl > tsm::kMaxPrivlevel) {
    return Failure{make_error_code(tsm::Errc::PrivlevelOutOfRange),
                   "vmpl " + std::to_string(options.vmpl)};
  }
  return std::make_shared<SnpAttester>(std::move(options));
}

Result<Bytes> SnpAttester::generate(const ReportData& report_data) const {
  auto evidence = generate_evidence(report_data);
  if (!evidence) {
    return evidence.error().code;
  }
  return std::move(*evidence);
}

bool SnpAttester::device_present() const {
  if (options_.device) {
    return true;
  }
  struct stat info {};
  return ::stat(options_.device_path.c_str(), &info) == 0 && S_ISCHR(info.st_mode);
}

Outcome<Bytes> SnpAttester::generate_evidence(const ReportData& report_data) const {
  Outcome<Raw> raw = fail(Errc::GenerationUnavailable);
  switch (options_.backend) {
    case SnpBackend::ConfigfsTsm: raw = from_tsm(report_data); break;
    case SnpBackend::Device: raw = from_device(report_data); break;
    case SnpBackend::Auto:
      if (tsm_.root_present()) {
        raw = from_tsm(report_data);
        if (!raw && tsm_not_usable(raw.error().code) && device_present()) {
          raw = from_device(report_data);
        }
      } else if (device_present()) {
        raw = from_device(report_data);
      } else {
        raw = fail(Errc::GenerationUnavailable,
                   "no " + options_.tsm.root.string() + ", no " + options_.device_path.string());
      }
      break;
  }
  if (!raw) {
    return raw.error();
  }
  const ByteView table = options_.include_certificates ? ByteView(raw->cert_table) : ByteView();
  return assemble_evidence(raw->report, table, report_data, options_.vmpl);
}

Outcome<SnpAttester::Raw> SnpAttester::from_tsm(const ReportData& report_data) const {
  // privlevel is always written: the kernel's default (0) is below privlevel_floor for a guest
  // above VMPL0, and the client then names the floor instead of failing inside the firmware.
  auto report = tsm_.generate({ByteView(report_data), options_.vmpl});
  if (!report) {
    return report.error();
  }
  Raw raw;
  raw.report = std::move(report->outblob);
  if (report->auxblob) {
    raw.cert_table = std::move(*report->auxblob);
  }
  return raw;
}

int SnpAttester::device_call(unsigned long request, snp_guest_request_ioctl& arg) const {
  auto delay = options_.busy_delay;
  for (unsigned attempt = 0;; ++attempt) {
    arg.exitinfo2 = 0;
    const int error = device_->guest_request(request, arg);
    if (error == 0 || !is_busy(error, arg) || attempt >= options_.busy_retries) {
      return error;
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

Outcome<SnpAttester::Raw> SnpAttester::from_device(const ReportData& report_data) const {
  if (linux_device_) {
    if (const int error = linux_device_->open(); error != 0) {
      return fail(Errc::DeviceOpenFailed, options_.device_path.string() + ": " + errno_text(error));
    }
  }
  // The kernel copies the response into this buffer (include/uapi/linux/sev-guest.h).
  snp_report_resp response{};
  snp_guest_request_ioctl arg{};
  arg.msg_version = kGuestMessageVersion;
  arg.resp_data = reinterpret_cast<std::uint64_t>(&response);
  if (!options_.device_certificates) {
    snp_report_req request{};
    std::memcpy(request.user_data, report_data.data(), report_data.size());
    request.vmpl = options_.vmpl;
    arg.req_data = reinterpret_cast<std::uint64_t>(&request);
    if (const int error = device_call(kSnpGetReport, arg); error != 0) {
      return fail(is_busy(error, arg) ? Errc::DeviceBusy : Errc::DeviceRequestFailed,
                  "SNP_GET_REPORT: " + request_detail(error, arg));
    }
    auto report = report_from_response(response);
    if (!report) {
      return report.error();
    }
    return Raw{std::move(*report), {}};
  }
  std::size_t size = options_.initial_cert_buffer;
  for (int resizes = 0;; ++resizes) {
    PageBuffer certs(size);
    if (certs.data() == nullptr) {
      return fail(Errc::InternalError, "certificate buffer allocation");
    }
    snp_ext_report_req request{};
    std::memcpy(request.data.user_data, report_data.data(), report_data.size());
    request.data.vmpl = options_.vmpl;
    request.certs_address = reinterpret_cast<std::uint64_t>(certs.data());
    request.certs_len = static_cast<std::uint32_t>(size);
    arg.req_data = reinterpret_cast<std::uint64_t>(&request);
    const int error = device_call(kSnpGetExtReport, arg);
    if (error == 0) {
      auto report = report_from_response(response);
      if (!report) {
        return report.error();
      }
      return Raw{std::move(*report), Bytes(certs.data(), certs.data() + size)};
    }
    const auto vmm = static_cast<std::uint32_t>(arg.exitinfo2 >> 32);
    if (error == EIO && vmm == kVmmErrorInvalidLength) {
      // The host's certificates do not fit; the kernel wrote the size it needs to certs_len
      // (verification.md §5.2). Ask again once with that size.
      const std::size_t needed = round_to_pages(request.certs_len);
      if (needed > options_.max_cert_buffer) {
        return fail(Errc::DeviceCertBufferTooLarge,
                    std::to_string(request.certs_len) + " bytes requested, " +
                        std::to_string(options_.max_cert_buffer) + " allowed");
      }
      if (needed <= size || resizes >= kMaxBufferResizes) {
        return fail(Errc::DeviceRequestFailed,
                    "SNP_GET_EXT_REPORT: certificate buffer of " + std::to_string(size) +
                        " bytes refused, host asks for " + std::to_string(request.certs_len));
      }
      size = needed;
      continue;
    }
    return fail(is_busy(error, arg) ? Errc::DeviceBusy : Errc::DeviceRequestFailed,
                "SNP_GET_EXT_REPORT: " + request_detail(error, arg));
  }
}

SnpDetection detect_snp(const std::filesystem::path& tsm_root,
                        const std::filesystem::path& device) {
  SnpDetection detection;
  tsm::TsmClientOptions options;
  options.root = tsm_root;
  const tsm::TsmClient client(options);
  if (client.root_present()) {
    if (auto provider = client.read_provider()) {
      detection.tsm_provider = std::move(*provider);
      detection.configfs_tsm = detection.tsm_provider == tsm::providers::kSevGuest;
    }
  }
  struct stat info {};
  detection.device = ::stat(device.c_str(), &info) == 0 && S_ISCHR(info.st_mode);
  return detection;
}

}  // namespace atls::attest::snp
