#pragma once
// Intel TDX evidence generation through Linux configfs-tsm (docs/verification.md §5.1, interop
// spec §4.4) for the attestation types dcap-tdx, gcp-tdx and qemu-tdx: all three send the raw
// DCAP quote (interop spec §4.1) and differ only in their label.
//
// One request: the configfs-tsm client (attest/tsm/tsm_client.h) creates a report entry,
// checks that the provider is "tdx_guest", writes the 64 report-data bytes to `inblob` and
// reads `outblob`. On that read the kernel's tdx_guest driver obtains a TDREPORT from the TDX
// module (TDG.MR.REPORT) and has the host's quoting service (Intel QGS) turn it into a DCAP
// quote (TDG.VP.VMCALL<GetQuote>), v4 or v5 depending on the host's DCAP version. TDX has no
// `privlevel` and no `auxblob`.
//
// The host and its quoting service are outside the TD's trust boundary, so what comes back is
// checked before it is sent to a peer: it must parse as a TDX quote (attest/tdx/quote.h), bind
// exactly the requested REPORTDATA, and stay within a size bound. The quote's signature is not
// checked here (that needs Intel collateral and is the peer's job); a quote a verifier will
// reject anyway is not worth a local verification on every handshake.
//
// Runs only in a real TDX guest with configfs-tsm (Linux ≥ 6.7, root or a delegated configfs
// mount). This repository tests it against the fake configfs-tsm of
// tests/support/fake_configfs_tsm.h; no TEE hardware is involved.
//
// Not supported: /dev/tdx_guest TDX_CMD_GET_QUOTE (pre-6.7 distro kernels) and direct QGS over
// vsock (verification.md §5.3); Azure TDX (vTPM + IMDS, interop spec §4.3).

#include <chrono>
#include <cstddef>
#include <memory>

#include "attest/attester.h"
#include "attest/tsm/tsm_client.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::tdx_gen {

/// Upper bound on a generated quote. A v4/v5 quote with its PCK chain is about 5 KiB (the
/// header, body, signatures and QE report take about 1.3 KiB; the rest is the PEM chain); the
/// bound leaves room for longer chains while keeping the attestation frame (64 KiB) far away.
inline constexpr std::size_t kMaxQuoteSize = std::size_t{16} * 1024;

struct TdxAttesterOptions {
  /// dcap-tdx, gcp-tdx or qemu-tdx (same evidence; the type only labels it).
  AttestationType type = AttestationType::DcapTdx;
  /// configfs-tsm settings (root, waits, concurrency). expected_provider is forced to
  /// "tdx_guest".
  tsm::TsmClientOptions tsm;
  /// Larger outblobs are refused (tdx_gen.generated_quote_too_large).
  std::size_t max_quote_size = kMaxQuoteSize;
  /// Further attempts when reading `outblob` fails (tsm.outblob_read_failed: the kernel returns
  /// EIO while the host's quoting service is unreachable or busy, verification.md §5.1), with
  /// exponential delays starting at retry_delay. Each attempt uses a fresh entry.
  unsigned quote_retries = 2;
  std::chrono::milliseconds retry_delay{250};
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
  /// Safe to call concurrently (the configfs-tsm client bounds concurrent requests).
  Result<Bytes> generate(const ReportData& report_data) const override;

  /// generate() with a human-readable detail on failure. Errors: the tsm.* codes of
  /// TsmClient::generate (tsm.unavailable without configfs-tsm, tsm.provider_mismatch on a
  /// non-TDX guest, tsm.outblob_read_failed when the quoting service fails after the
  /// retries, ...), and those of check_generated_quote.
  Outcome<Bytes> generate_evidence(const ReportData& report_data) const override;

  const TdxAttesterOptions& options() const noexcept { return options_; }

  explicit TdxAttester(TdxAttesterOptions options);

 private:
  TdxAttesterOptions options_;
  tsm::TsmClient tsm_;
};

/// Checks what configfs-tsm returned for a request with `expected` as inblob: at most
/// `max_size` bytes, a well-formed DCAP quote (attest/tdx/quote.h), of a TDX TEE, whose
/// REPORTDATA equals `expected`. The bytes are returned unchanged (interop spec §4.2: padding
/// after the authentication data is forwarded as-is). Pure; never reads outside `outblob`.
/// Errors: tdx_gen.generated_quote_too_large, generated_quote_invalid (the tdx.* parser error
/// in the detail), generated_quote_not_tdx, generated_report_data_mismatch.
Outcome<Bytes> check_generated_quote(Bytes outblob, const ReportData& expected,
                                     std::size_t max_size = kMaxQuoteSize);

}  // namespace atls::attest::tdx_gen
