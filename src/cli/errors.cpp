#include "cli/errors.h"

#include <array>

namespace atls::cli {
namespace {

constexpr std::array kTable{
    errc_row(Errc::ConfigInvalid, "config_invalid", "the configuration is invalid"),
};

const NamedCategory kCategory{"cli", kTable};

}  // namespace

const NamedCategory& cli_category() noexcept {
  return kCategory;
}

}  // namespace atls::cli
