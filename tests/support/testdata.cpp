#include "support/testdata.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace atls::testing {

std::filesystem::path testdata_root() {
  if (const char* dir = std::getenv("ATLS_TESTDATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return ATLS_DEFAULT_TESTDATA_DIR;
}

std::filesystem::path testdata_path(const std::string& relative) {
  return testdata_root() / relative;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace atls::testing
