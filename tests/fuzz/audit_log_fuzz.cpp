// Fuzzes the audit log verifier (ops/audit_log.h): any file content must verify or fail with a
// named audit.* error — never crash. The verifier reads files, so the input goes to a temporary
// file first.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "ops/audit_log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("atls-audit-fuzz-" + std::to_string(::getpid()));
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto verified = atls::ops::verify_audit_files({path});
  if (!verified && verified.error().code.category() != atls::ops::audit_category()) {
    std::abort();  // every failure is a named audit error
  }
  std::filesystem::remove(path);
  return 0;
}
