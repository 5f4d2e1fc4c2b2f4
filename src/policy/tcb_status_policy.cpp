#include "policy/tcb_status_policy.h"

#include <algorithm>

#include "attest/tdx/tcb_info.h"
#include "policy/errors.h"

namespace atls::policy {

TcbStatusPolicy TcbStatusPolicy::defaults() {
  TcbStatusPolicy policy;
  policy.accepted_ = {"UpToDate", "SWHardeningNeeded"};
  return policy;
}

TcbStatusPolicy TcbStatusPolicy::any_but_revoked() {
  TcbStatusPolicy policy;
  policy.any_but_revoked_ = true;
  return policy;
}

Outcome<TcbStatusPolicy> TcbStatusPolicy::parse(const std::vector<std::string>& items) {
  if (items.size() == 1 && (items.front() == "any-but-revoked" || items.front() == "flashbots")) {
    return any_but_revoked();
  }
  TcbStatusPolicy policy;
  for (const auto& item : items) {
    std::optional<attest::tdx::TcbStatus> status;
    for (int i = 0; i <= static_cast<int>(attest::tdx::TcbStatus::Revoked) && !status; ++i) {
      const auto candidate = static_cast<attest::tdx::TcbStatus>(i);
      const auto name = attest::tdx::to_string(candidate);
      if (name.size() == item.size() &&
          std::equal(name.begin(), name.end(), item.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        status = candidate;
      }
    }
    if (!status) {
      return Failure{
          make_error_code(Errc::UnknownTcbStatus),
          "\"" + item +
              "\": use UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
              "ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, "
              "TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded or any-but-revoked"};
    }
    if (*status == attest::tdx::TcbStatus::Revoked) {
      return Failure{make_error_code(Errc::UnknownTcbStatus),
                     "Revoked platforms are never accepted"};
    }
    policy.accepted_.emplace_back(attest::tdx::to_string(*status));
  }
  if (policy.accepted_.empty()) {
    return Failure{make_error_code(Errc::UnknownTcbStatus), "empty list"};
  }
  return policy;
}

bool TcbStatusPolicy::accepts(std::string_view status) const {
  if (status.empty()) {
    return true;
  }
  if (any_but_revoked_) {
    return status != "Revoked";
  }
  return std::find(accepted_.begin(), accepted_.end(), status) != accepted_.end();
}

std::string TcbStatusPolicy::describe() const {
  if (any_but_revoked_) {
    return "any but Revoked";
  }
  std::string out;
  for (const auto& status : accepted_) {
    out += (out.empty() ? "" : ", ") + status;
  }
  return out;
}

}  // namespace atls::policy
