#include "cli/errors.h"

#include <array>

namespace atls::cli {
namespace {

constexpr std::array kTable{
    errc_row(Errc::ConfigInvalid, "config_invalid", "the configuration is invalid"),
    errc_row(Errc::IoBackendUnavailable, "io_backend_unavailable",
             "the kernel refuses this build's network I/O backend"),
};

const NamedCategory kCategory{"cli", kTable};

}  // namespace

const NamedCategory& cli_category() noexcept {
  return kCategory;
}

}  // namespace atls::cli
