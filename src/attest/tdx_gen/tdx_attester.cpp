#include "attest/tdx_gen/tdx_attester.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "attest/tdx/errors.h"
#include "attest/tdx/quote.h"
#include "attest/tdx_gen/errors.h"
#include "attest/tdx_gen/qgs_message.h"
#include "attest/tsm/errors.h"

namespace atls::attest::tdx_gen {
namespace {

bool is_tdx_type(AttestationType type) {
  return type == AttestationType::DcapTdx || type == AttestationType::GcpTdx ||
         type == AttestationType::QemuTdx;
}

std::string attester_errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Whether configfs-tsm is unusable here, as opposed to having failed to generate. Not
// tsm.provider_mismatch: another provider means another TEE (tdx_attester.h).
bool tsm_unusable(const ErrorCode& code) {
  return code == tsm::Errc::Unavailable || code == tsm::Errc::NoProvider ||
         code == tsm::Errc::PermissionDenied;
}

// Failures of the quoting service that a later attempt may not meet (verification.md §5.1).
bool quoting_service_transient(const ErrorCode& code) {
  return code == tsm::Errc::OutblobReadFailed || code == Errc::DeviceQuoteStatusError ||
         code == Errc::DeviceQuoteServiceUnavailable || code == Errc::QgsConnectFailed ||
         code == Errc::QgsIoFailed;
}

}  // namespace

std::string_view to_string(TdxBackend backend) noexcept {
  switch (backend) {
    case TdxBackend::Auto: return "auto";
    case TdxBackend::ConfigfsTsm: return "configfs-tsm";
    case TdxBackend::DeviceQuote: return "device-quote";
    case TdxBackend::Qgs: return "qgs";
  }
  return "unknown";
}

Outcome<Bytes> check_generated_quote(Bytes quote, const ReportData& expected,
                                     std::size_t max_size) {
  if (quote.size() > max_size) {
    return tdx_gen_failure(
        Errc::GeneratedQuoteTooLarge,
        std::to_string(quote.size()) + " bytes, at most " + std::to_string(max_size));
  }
  auto parsed = tdx::parse_quote(quote);
  if (!parsed) {
    const ErrorCode& code = parsed.error().code;
    // The parser names a non-TDX quote itself (interop spec §4.2: tee_type 0x81, version 4/5).
    if (code == tdx::Errc::NotTdx || code == tdx::Errc::SgxQuoteNotSupported) {
      return tdx_gen_failure(Errc::GeneratedQuoteNotTdx, parsed.error().describe());
    }
    return tdx_gen_failure(Errc::GeneratedQuoteInvalid, parsed.error().describe());
  }
  if (parsed->header.tee_type != tdx::kTeeTypeTdx) {
    return tdx_gen_failure(Errc::GeneratedQuoteNotTdx,
                           "TEE type " + std::to_string(parsed->header.tee_type));
  }
  // A quote over someone else's input (a racing writer the generation check missed, a confused
  // or malicious host) must never be sent: the peer would reject it at best.
  if (!std::equal(expected.begin(), expected.end(), parsed->body.report_data.begin(),
                  parsed->body.report_data.end())) {
    return tdx_gen_failure(Errc::GeneratedReportDataMismatch);
  }
  return quote;
}

TdxAttester::TdxAttester(TdxAttesterOptions options)
    : options_([&options] {
        options.tsm.expected_provider = std::string(tsm::providers::kTdxGuest);
        return std::move(options);
      }()),
      tsm_(options_.tsm),
      linux_device_(options_.device
                        ? nullptr
                        : std::make_shared<const LinuxTdxGuestDevice>(options_.device_path)),
      device_(options_.device ? options_.device : linux_device_) {}

Outcome<std::shared_ptr<TdxAttester>> TdxAttester::create(TdxAttesterOptions options) {
  if (!is_tdx_type(options.type)) {
    return tdx_gen_failure(Errc::UnsupportedAttestationType, std::string(to_string(options.type)));
  }
  return std::make_shared<TdxAttester>(std::move(options));
}

Result<Bytes> TdxAttester::generate(const ReportData& report_data) const {
  auto evidence = generate_evidence(report_data);
  if (!evidence) {
    return evidence.error().code;
  }
  return std::move(*evidence);
}

Outcome<Bytes> TdxAttester::generate_evidence(const ReportData& report_data) const {
  auto delay = options_.retry_delay;
  for (unsigned attempt = 0;; ++attempt) {
    auto raw = generate_once(report_data);
    if (raw) {
      if (last_backend_.exchange(raw->source) != raw->source) {
        spdlog::info("TDX quotes are generated through {}", to_string(raw->source));
      }
      return check_generated_quote(std::move(raw->quote), report_data, options_.max_quote_size);
    }
    // Only a failure of the quoting service is worth repeating (it may be restarting); a
    // missing interface, a permission problem or a malformed answer will not change.
    if (!quoting_service_transient(raw.error().code) || attempt >= options_.quote_retries) {
      Failure failure = raw.error();
      if (attempt > 0) {
        failure.detail += " (after " + std::to_string(attempt + 1) + " attempts)";
      }
      return failure;
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

Outcome<TdxAttester::Raw> TdxAttester::generate_once(const ReportData& report_data) const {
  switch (options_.backend) {
    case TdxBackend::ConfigfsTsm: return from_tsm(report_data);
    case TdxBackend::DeviceQuote: return from_device(report_data, false);
    case TdxBackend::Qgs: return from_qgs(report_data);
    case TdxBackend::Auto: break;
  }
  std::optional<Failure> tsm_failure;
  if (tsm_.root_present()) {
    auto raw = from_tsm(report_data);
    if (raw || !tsm_unusable(raw.error().code)) {
      return raw;
    }
    tsm_failure = raw.error();
  }
  if (!device_present()) {
    if (tsm_failure) {
      tsm_failure->detail += "; " + options_.device_path.string() + " is not a character device";
      return *tsm_failure;
    }
    return tdx_gen_failure(Errc::GenerationUnavailable, "no " + options_.tsm.root.string() +
                                                            " (configfs-tsm), no " +
                                                            options_.device_path.string());
  }
  auto raw = from_device(report_data, true);
  if (!raw && tsm_failure) {
    // (result::error() returns a copy.)
    Failure failure = raw.error();
    failure.detail += " (configfs-tsm not usable: " + tsm_failure->describe() + ")";
    return failure;
  }
  return raw;
}

Outcome<TdxAttester::Raw> TdxAttester::from_tsm(const ReportData& report_data) const {
  // TDX has no privilege levels: `privlevel` is left alone (the provider has none).
  auto report = tsm_.generate({ByteView(report_data), std::nullopt});
  if (!report) {
    return report.error();
  }
  return Raw{std::move(report->outblob), TdxBackend::ConfigfsTsm};
}

Outcome<TdxAttester::Raw> TdxAttester::from_device(const ReportData& report_data,
                                                   bool qgs_when_unsupported) const {
  auto report = device_report(report_data);
  if (!report) {
    return report.error();
  }
  auto quote = device_quote(*report);
  if (quote) {
    return Raw{std::move(*quote), TdxBackend::DeviceQuote};
  }
  if (qgs_when_unsupported && quote.error().code == Errc::DeviceQuoteUnsupported) {
    // Upstream kernels 6.2–6.6: TDREPORTs only. The QGS is asked directly.
    auto direct = qgs_get_quote(options_.qgs, *report);
    if (!direct) {
      Failure failure = direct.error();
      failure.detail += " (the kernel has no TDX_CMD_GET_QUOTE)";
      return failure;
    }
    return Raw{std::move(*direct), TdxBackend::Qgs};
  }
  return quote.error();
}

Outcome<TdxAttester::Raw> TdxAttester::from_qgs(const ReportData& report_data) const {
  auto report = device_report(report_data);
  if (!report) {
    return report.error();
  }
  auto quote = qgs_get_quote(options_.qgs, *report);
  if (!quote) {
    return quote.error();
  }
  return Raw{std::move(*quote), TdxBackend::Qgs};
}

bool TdxAttester::device_present() const {
  if (options_.device) {
    return true;
  }
  struct stat info {};
  return ::stat(options_.device_path.c_str(), &info) == 0 && S_ISCHR(info.st_mode);
}

Outcome<TdReport> TdxAttester::device_report(const ReportData& report_data) const {
  const std::string path = options_.device_path.string();
  if (linux_device_) {
    if (const int error = linux_device_->open(); error != 0) {
      return tdx_gen_failure(Errc::DeviceOpenFailed, path + ": " + attester_errno_text(error));
    }
  }
  TdReport report{};
  if (const int error = device_->get_report0(report_data, report); error != 0) {
    return tdx_gen_failure(Errc::DeviceReportFailed,
                           path + ": TDX_CMD_GET_REPORT0: " + attester_errno_text(error));
  }
  return report;
}

Outcome<Bytes> TdxAttester::device_quote(const TdReport& report) const {
  const std::string path = options_.device_path.string();
  const Bytes message = encode_get_quote_request(report);
  auto delay = options_.device_busy_delay;
  for (unsigned attempt = 0;; ++attempt) {
    // A fresh buffer each time: the host overwrites the payload with its answer.
    Bytes buffer = encode_get_quote_buffer(message);
    const int error = device_->get_quote(buffer);
    std::string pending;
    if (error == ENOTTY || error == EINVAL) {
      // The kernel's tdx_guest driver rejects unknown commands (upstream: ENOTTY).
      return tdx_gen_failure(Errc::DeviceQuoteUnsupported,
                             path + ": TDX_CMD_GET_QUOTE: " + attester_errno_text(error));
    }
    if (error == EBUSY) {
      pending = "EBUSY";
    } else if (error != 0) {
      return tdx_gen_failure(Errc::DeviceQuoteFailed,
                             path + ": TDX_CMD_GET_QUOTE: " + attester_errno_text(error));
    } else {
      const GetQuoteHeader header = read_get_quote_header(buffer);
      switch (header.status) {
        case kGetQuoteSuccess: {
          auto answer = get_quote_buffer_message(buffer);
          if (!answer) {
            return answer.error();
          }
          auto decoded = decode_get_quote_response(*answer);
          if (!decoded) {
            return decoded.error();
          }
          return std::move(decoded->quote);
        }
        case kGetQuoteInFlight: pending = get_quote_status_name(header.status); break;
        case kGetQuoteServiceUnavailable:
          return tdx_gen_failure(Errc::DeviceQuoteServiceUnavailable,
                                 get_quote_status_name(header.status));
        default:
          return tdx_gen_failure(Errc::DeviceQuoteStatusError,
                                 get_quote_status_name(header.status));
      }
    }
    if (attempt >= options_.device_busy_retries) {
      return tdx_gen_failure(Errc::DeviceQuoteInFlight,
                             pending + " after " + std::to_string(attempt + 1) + " attempts");
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

}  // namespace atls::attest::tdx_gen
