#pragma once
// Named failures of the configfs-tsm report client (Linux
// Documentation/ABI/testing/configfs-tsm-report; docs/verification.md §5.1). The names
// ("tsm.generation_race") appear in logs and metrics, so they are stable.

#include "core/error.h"

namespace atls::attest::tsm {

enum class Errc {
  /// The report root (/sys/kernel/config/tsm/report) is missing or not a directory: no
  /// configfs-tsm on this kernel, or configfs is not mounted.
  Unavailable = 1,
  /// mkdir of the entry failed with ENXIO: configfs-tsm exists but no TEE provider registered.
  NoProvider,
  /// EACCES/EPERM on the report root or an attribute (configfs-tsm needs root or a delegated
  /// configfs mount).
  PermissionDenied,
  /// mkdir of the entry failed for another reason (after retrying name collisions).
  EntryCreateFailed,
  /// A required attribute did not appear in the entry within the wait bound.
  AttributeMissing,
  /// `provider` names another TEE than the caller expects.
  ProviderMismatch,
  /// Reading `provider`, `generation` or `privlevel_floor` failed.
  AttributeReadFailed,
  /// `generation` or `privlevel_floor` is not a decimal number.
  AttributeMalformed,
  /// The request's inblob is not exactly 64 bytes.
  InvalidInblobSize,
  /// A privilege level was requested but the provider has no `privlevel` attribute.
  PrivlevelUnsupported,
  /// The requested privilege level is above 3 (TSM_REPORT_PRIVLEVEL_MAX).
  PrivlevelOutOfRange,
  /// The requested privilege level is below the provider's `privlevel_floor`.
  PrivlevelBelowFloor,
  PrivlevelWriteFailed,
  InblobWriteFailed,
  /// Reading `outblob` failed (the provider's report generation failed: EIO, EINVAL, ...).
  OutblobReadFailed,
  OutblobEmpty,
  OutblobTooLarge,
  AuxblobReadFailed,
  AuxblobTooLarge,
  /// `generation` moved by more than this request's writes on every attempt: another writer
  /// raced on the entry (Documentation/ABI/testing/configfs-tsm-report, `generation`).
  GenerationRace,
  /// No slot in the client's concurrency bound became free within the wait bound.
  Busy,
};

ATLS_DECLARE_ERRC(Errc, tsm_category)

}  // namespace atls::attest::tsm

ATLS_REGISTER_ERRC(atls::attest::tsm::Errc);
