#pragma once

#include "core/error.h"

namespace atls::attest {

enum class Errc {
  UnknownAttestationType = 1,
  GenerationUnavailable,
};

ATLS_DECLARE_ERRC(Errc, attest_category)

}  // namespace atls::attest

ATLS_REGISTER_ERRC(atls::attest::Errc);
