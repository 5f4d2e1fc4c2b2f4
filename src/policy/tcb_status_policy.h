#pragma once
// Which TCB statuses are acceptable. Intel's collateral grades a verified platform (UpToDate,
// SWHardeningNeeded, ConfigurationNeeded, OutOfDate, ...; verification.md §1.4): whether a
// grade is good enough is policy, not verification. Default: UpToDate and SWHardeningNeeded.
// flashbots accepts every status but Revoked (interop spec §5.2 step 12); that behaviour is
// available as the "any-but-revoked" setting. Revoked is rejected by verification itself.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace atls::policy {

class TcbStatusPolicy {
 public:
  /// UpToDate and SWHardeningNeeded.
  static TcbStatusPolicy defaults();
  /// Every status except Revoked (flashbots-compatible).
  static TcbStatusPolicy any_but_revoked();
  /// From `--accept-tcb-status`: status names (exact PCS spelling, case-insensitive) or the
  /// single word "any-but-revoked". Errors: policy.unknown_tcb_status naming the entry.
  static Outcome<TcbStatusPolicy> parse(const std::vector<std::string>& items);

  /// Whether evidence graded `status` is acceptable; an empty status (evidence without a TCB
  /// grade, e.g. SEV-SNP) always is.
  bool accepts(std::string_view status) const;
  /// "UpToDate, SWHardeningNeeded" or "any but Revoked".
  std::string describe() const;

 private:
  std::vector<std::string> accepted_;
  bool any_but_revoked_ = false;
};

}  // namespace atls::policy
