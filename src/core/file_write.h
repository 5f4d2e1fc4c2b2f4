#pragma once
// Creating files that hold secrets (private keys): the file is created with its final mode, so
// it is never readable by others, not even briefly, and an existing file is never overwritten.

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace atls {

/// Creates `path` (O_EXCL) with `mode` and writes `content` completely (partial writes and
/// EINTR are retried). Errors: the system error of open/write/close (EEXIST when the file
/// exists); a file that could not be completed is removed.
Result<void> write_new_file(const std::filesystem::path& path, std::string_view content,
                            mode_t mode);

}  // namespace atls
