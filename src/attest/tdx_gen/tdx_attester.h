#pragma once
// Intel TDX evidence generation (docs/verification.md §5.1, §5.3; interop spec §4.4) for the
// attestation types dcap-tdx, gcp-tdx and qemu-tdx: all three send the raw DCAP quote (interop
// spec §4.1) and differ only in their label.
//
// Three ways to a quote; backend Auto (the default) takes the first one this guest offers:
//   1. configfs-tsm (Linux ≥ 6.7), provider "tdx_guest" (attest/tsm/tsm_client.h): 64 bytes to
//      `inblob`, the quote from `outblob`. The kernel gets the TDREPORT from the TDX module
//      (TDG.MR.REPORT) and has the VMM forward it to the host's quoting service (Intel QGS)
//      with TDG.VP.VMCALL<GetQuote>. No `privlevel`, no `auxblob`.
//   2. /dev/tdx_guest (tdx_guest_device.h): TDX_CMD_GET_REPORT0 for the TDREPORT, then the
//      legacy TDX_CMD_GET_QUOTE ioctl (Intel's and some distribution kernels) carrying a framed
//      QGS GET_QUOTE message (qgs_message.h) through the same GetQuote VMCALL.
//   3. /dev/tdx_guest TDX_CMD_GET_REPORT0, then the QGS directly over vsock (qgs_client.h; host
//      CID 2, port 4050 by default), for upstream kernels without configfs-tsm (6.2–6.6).
// Auto moves on from 1 only when configfs-tsm is unusable here — missing (tsm.unavailable), no
// provider registered (tsm.no_provider) or not permitted (tsm.permission_denied: configfs-tsm
// needs root; the device may be accessible to a group) — and from 2 only when the kernel has no
// TDX_CMD_GET_QUOTE (ENOTTY/EINVAL: the request never left the guest). It never moves on after a
// path that exists failed to generate: all three end at the same host quoting service, so the
// failure would only repeat. tsm.provider_mismatch does not move on either: a
// configfs-tsm provider other than tdx_guest means this is not a TDX guest (the kernel allows one
// provider), and /dev/tdx_guest cannot exist then. The explicit backends ConfigfsTsm,
// DeviceQuote and Qgs use one path only.
//
// The host and its quoting service are outside the TD's trust boundary, so what comes back is
// checked before it is sent to a peer: every QGS message length is checked, and the quote must
// parse as a TDX quote (attest/tdx/quote.h), bind exactly the requested REPORTDATA, and stay
// within a size bound (check_generated_quote). The quote's signature is not checked here (that
// needs Intel collateral and is the peer's job).
//
// Runs only in a real TDX guest. This repository has no TEE hardware: configfs-tsm is tested
// against tests/support/fake_configfs_tsm.h, the device paths against a fake TdxGuestDevice
// (tests/support/fake_tdx_guest.h) and the QGS socket against a fake QGS on a unix socket or
// 127.0.0.1 (tests/support/fake_qgs.h), with the INSECURE mock TDX quoting service behind them.
// None of the three has been run against a real kernel or a real QGS.
//
// Not supported: hosts whose TDX_CMD_GET_QUOTE payload is the raw TDREPORT rather than a QGS
// message (Google COS kernels, as go-tdx-guest sends it; upstream QEMU ≥ 10.1 wraps the TDREPORT
// itself, but pairs with configfs-tsm kernels); Azure TDX (vTPM + IMDS, interop spec §4.3).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "attest/attester.h"
#include "attest/tdx_gen/qgs_client.h"
#include "attest/tdx_gen/tdx_guest_device.h"
#include "attest/tsm/tsm_client.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx_gen {

/// Upper bound on a generated quote. A v4/v5 quote with its PCK chain is about 5 KiB (the
/// header, body, signatures and QE report take about 1.3 KiB; the rest is the PEM chain); the
/// bound leaves room for longer chains while keeping the attestation frame (64 KiB) far away.
inline constexpr std::size_t kMaxQuoteSize = std::size_t{16} * 1024;

enum class TdxBackend {
  Auto,         ///< configfs-tsm, else /dev/tdx_guest GET_QUOTE, else QGS (see above)
  ConfigfsTsm,  ///< configfs-tsm only
  DeviceQuote,  ///< /dev/tdx_guest TDX_CMD_GET_REPORT0 + TDX_CMD_GET_QUOTE only
  Qgs,          ///< /dev/tdx_guest TDX_CMD_GET_REPORT0 + the QGS socket only
};

/// "auto", "configfs-tsm", "device-quote", "qgs".
std::string_view to_string(TdxBackend backend) noexcept;

struct TdxAttesterOptions {
  /// dcap-tdx, gcp-tdx or qemu-tdx (same evidence; the type only labels it).
  AttestationType type = AttestationType::DcapTdx;
  TdxBackend backend = TdxBackend::Auto;
  /// configfs-tsm settings (root, waits, concurrency). expected_provider is forced to
  /// "tdx_guest".
  tsm::TsmClientOptions tsm;
  /// The device used by the ioctl and QGS paths. Null: LinuxTdxGuestDevice(device_path).
  TdxGuestDevicePtr device;
  std::filesystem::path device_path{std::string(kDefaultTdxGuestDevice)};
  /// Where the QGS listens (default vsock:2:4050) and the socket's bounds.
  QgsClientOptions qgs;
  /// Larger quotes are refused (tdx_gen.generated_quote_too_large).
  std::size_t max_quote_size = kMaxQuoteSize;
  /// Further attempts when the quoting service fails in a way that may pass (verification.md
  /// §5.1: "QGS unavailable → retry with backoff"): tsm.outblob_read_failed (the kernel's EIO),
  /// tdx_gen.device_quote_status_error, device_quote_service_unavailable, qgs_connect_failed,
  /// qgs_io_failed. Exponential delays from retry_delay; each attempt starts afresh.
  unsigned quote_retries = 2;
  std::chrono::milliseconds retry_delay{250};
  /// TDX_CMD_GET_QUOTE reissued while the request is in flight (status GET_QUOTE_IN_FLIGHT or
  /// EBUSY), with exponential delays from device_busy_delay; then
  /// tdx_gen.device_quote_in_flight (about 7.75 s with the defaults).
  unsigned device_busy_retries = 5;
  std::chrono::milliseconds device_busy_delay{250};
};

class TdxAttester final : public Attester {
 public:
  /// @return the attester, or tdx_gen.unsupported_attestation_type (type not dcap-tdx,
  /// gcp-tdx or qemu-tdx). Does not touch the system: availability shows on each generate()
  /// (the proxy's readiness self-test calls it once at start-up).
  static Outcome<std::shared_ptr<TdxAttester>> create(TdxAttesterOptions options);

  AttestationType type() const noexcept override { return options_.type; }

  /// A DCAP quote binding `report_data`. Blocking (a round trip to the host's quoting
  /// service); run it on the attestation pool.
  /// @par Thread Safety
  /// Safe to call concurrently.
  Result<Bytes> generate(const ReportData& report_data) const override;

  /// generate() with a human-readable detail on failure. Errors: the tsm.* codes of
  /// TsmClient::generate (tsm.provider_mismatch on a non-TDX guest, tsm.outblob_read_failed
  /// when the quoting service fails after the retries, ...); tdx_gen.generation_unavailable
  /// (Auto: neither configfs-tsm nor the device), device_open_failed, device_report_failed,
  /// device_quote_unsupported (DeviceQuote only), device_quote_failed,
  /// device_quote_status_error, device_quote_service_unavailable, device_quote_in_flight,
  /// device_quote_response_invalid, the qgs_* codes of the message decoder and the socket
  /// client; and those of check_generated_quote.
  Outcome<Bytes> generate_evidence(const ReportData& report_data) const override;

  const TdxAttesterOptions& options() const noexcept { return options_; }

  /// The path that produced the last successful quote (ConfigfsTsm, DeviceQuote or Qgs; Auto
  /// before the first). Changes are logged at info level.
  TdxBackend last_backend() const noexcept { return last_backend_.load(); }

  explicit TdxAttester(TdxAttesterOptions options);

 private:
  struct Raw {
    Bytes quote;
    TdxBackend source = TdxBackend::Auto;
  };
  Outcome<Raw> generate_once(const ReportData& report_data) const;
  Outcome<Raw> from_tsm(const ReportData& report_data) const;
  Outcome<Raw> from_device(const ReportData& report_data, bool qgs_when_unsupported) const;
  Outcome<Raw> from_qgs(const ReportData& report_data) const;
  Outcome<TdReport> device_report(const ReportData& report_data) const;
  Outcome<Bytes> device_quote(const TdReport& report) const;
  bool device_present() const;

  TdxAttesterOptions options_;
  tsm::TsmClient tsm_;
  std::shared_ptr<const LinuxTdxGuestDevice> linux_device_;  ///< set when not injected
  TdxGuestDevicePtr device_;
  mutable std::atomic<TdxBackend> last_backend_{TdxBackend::Auto};
};

/// Checks a generated quote for a request with `expected` as report data: at most `max_size`
/// bytes, a well-formed DCAP quote (attest/tdx/quote.h), of a TDX TEE, whose REPORTDATA equals
/// `expected`. The bytes are returned unchanged (interop spec §4.2: padding after the
/// authentication data is forwarded as-is). Pure; never reads outside `quote`.
/// Errors: tdx_gen.generated_quote_too_large, generated_quote_invalid (the tdx.* parser error
/// in the detail), generated_quote_not_tdx, generated_report_data_mismatch.
Outcome<Bytes> check_generated_quote(Bytes quote, const ReportData& expected,
                                     std::size_t max_size = kMaxQuoteSize);

}  // namespace atls::attest::tdx_gen
