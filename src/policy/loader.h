#pragma once
// Where a measurement policy comes from (interop spec §6.1, §6.3).

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "policy/measurement_policy.h"

namespace atls::policy {

/// Loads `--measurements-file`: a value starting with http:// or https:// (case-insensitive,
/// surrounding whitespace trimmed) is fetched; anything else is a local path. Plain http is
/// allowed only for loopback hosts, since the policy is the root of every trust decision.
/// Blocking; call at start-up or reload, never on an I/O thread.
Outcome<MeasurementPolicy> load_measurement_policy(std::string_view file_or_url);

/// Whether load_measurement_policy() fetches `file_or_url` rather than reading a file.
bool is_measurements_url(std::string_view file_or_url);

/// Applies the CLI rule that exactly one of `--measurements-file` and
/// `--allowed-remote-attestation-type` is given (§6.3).
Outcome<MeasurementPolicy> policy_from_options(const std::optional<std::string>& measurements_file,
                                               const std::optional<std::string>& allowed_type);

}  // namespace atls::policy
