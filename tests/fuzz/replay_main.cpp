// Corpus replay driver for the fuzz targets in GCC builds (dev, asan). libFuzzer needs clang, but
// the seed corpora and every crash input ever found must keep passing in the normal builds and
// under ASan/UBSan; this driver feeds each file of a corpus directory to a target's entry point
// once. Every target's LLVMFuzzerTestOneInput is renamed at compile time (tests/fuzz/
// CMakeLists.txt) and listed in the generated fuzz_registry.inc.
//
//   fuzz_replay <target> <file-or-directory>...
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "fuzz_registry.inc"

namespace {

struct FuzzTarget {
  std::string_view name;
  int (*entry)(const std::uint8_t*, std::size_t);
};

constexpr FuzzTarget kTargets[] = {ATLS_FUZZ_TARGETS};

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());  // deterministic order for reproducible failures
  } else {
    files.push_back(path);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_replay <target> <file-or-directory>...\ntargets:");
    for (const auto& target : kTargets) {
      std::fprintf(stderr, " %.*s", static_cast<int>(target.name.size()), target.name.data());
    }
    std::fprintf(stderr, "\n");
    return 2;
  }
  const std::string_view wanted = argv[1];
  const auto* target = std::find_if(std::begin(kTargets), std::end(kTargets),
                                    [&](const FuzzTarget& t) { return t.name == wanted; });
  if (target == std::end(kTargets)) {
    std::fprintf(stderr, "fuzz_replay: unknown target %s\n", argv[1]);
    return 2;
  }
  std::size_t replayed = 0;
  for (int i = 2; i < argc; ++i) {
    if (!std::filesystem::exists(argv[i])) {
      std::fprintf(stderr, "fuzz_replay: %s does not exist\n", argv[i]);
      return 2;
    }
    for (const auto& file : inputs_under(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      // The entry point aborts on a violated property; a sanitizer report ends the process.
      target->entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "fuzz_replay: no inputs for %s (a corpus must not be empty)\n", argv[1]);
    return 1;
  }
  std::printf("fuzz_replay: %s: %zu inputs passed\n", argv[1], replayed);
  return 0;
}
