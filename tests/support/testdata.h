#pragma once
// Access to the real evidence and policy files in the project's shared test data
// (`../shared/testdata` next to the checkout; see its VECTORS.md and flashbots/CATALOG.md).
// They are third-party data files and are never copied into this repository.
//
// The location can be overridden with the ATLS_TESTDATA_DIR environment variable. When the
// directory is absent the tests that need it are skipped with a message naming the path, so a
// bare clone still runs everything else.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/bytes.h"

namespace atls::testing {

/// Root of the shared test data.
std::filesystem::path testdata_root();

/// `testdata_root() / relative`.
std::filesystem::path testdata_path(const std::string& relative);

/// Whole file contents (empty if unreadable).
std::string read_text(const std::filesystem::path& path);
Bytes read_bytes(const std::filesystem::path& path);

}  // namespace atls::testing

/// Skips the current test when the shared test data is not available.
#define ATLS_REQUIRE_TESTDATA()                                                            \
  do {                                                                                     \
    if (!std::filesystem::is_directory(::atls::testing::testdata_root())) {                \
      GTEST_SKIP() << "shared test data not found at " << ::atls::testing::testdata_root() \
                   << " (set ATLS_TESTDATA_DIR)";                                          \
    }                                                                                      \
  } while (false)
