#pragma once
// Serves a directory over the attested channel (`attested-file-server`, interop spec §8.5):
// GET and HEAD of regular files below the root, content type from the file extension,
// `index.html` for directories. Paths are percent-decoded and must stay inside the root
// (no "..", no NUL, symlinks resolved and checked).

#include <filesystem>
#include <string>

#include "http/exchange.h"

namespace atls::proxy {

http::RequestHandler file_server_handler(std::filesystem::path root);

/// MIME type for a file name by extension ("application/octet-stream" if unknown).
std::string_view content_type_for(const std::filesystem::path& path);

/// Maps a request target to a path below `root`, or nullopt if it escapes the root or is
/// malformed (exposed for tests).
std::optional<std::filesystem::path> resolve_request_path(const std::filesystem::path& root,
                                                          std::string_view target);

}  // namespace atls::proxy
