#pragma once
// Chooses the local attester from `--server-attestation-type` / `--client-attestation-type`.

#include <string_view>

#include "attest/attester.h"
#include "core/error.h"

namespace atls::attest {

/// `auto` probes the evidence sources this build can use (interop spec §4.5) and falls back to
/// `none` when it finds no TEE, as flashbots does. A concrete type that this build cannot
/// generate is an error, never a silent downgrade.
Outcome<AttesterPtr> make_attester(std::string_view requested_type);

}  // namespace atls::attest
