#pragma once
// Running real command-line tools (openssl, curl, ...) from tests.

#include <string>

namespace atls::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout (stderr too when the command redirects it)
};

/// Runs `command` through /bin/sh and captures its standard output.
CommandResult run_command(const std::string& command);

/// A fresh temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const noexcept { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace atls::testing
