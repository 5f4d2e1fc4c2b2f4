#include "attest/errors.h"

#include <array>

namespace atls::attest {
namespace {

constexpr std::array kTable{
    errc_row(Errc::UnknownAttestationType, "unknown_attestation_type", "unknown attestation type"),
    errc_row(Errc::GenerationUnavailable, "generation_unavailable",
             "this build cannot generate evidence of the requested type"),
};

const NamedCategory kCategory{"attest", kTable};

}  // namespace

const NamedCategory& attest_category() noexcept {
  return kCategory;
}

}  // namespace atls::attest
