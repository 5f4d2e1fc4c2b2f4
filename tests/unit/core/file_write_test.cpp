// write_new_file: final mode from creation, never overwrites, complete content.
#include "core/file_write.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace atls {
namespace {

namespace fs = std::filesystem;

TEST(WriteNewFile, CreatesWithModeAndNeverOverwrites) {
  const fs::path dir = fs::temp_directory_path() / ("atls-write-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "key.pem";
  const std::string content(100000, 'k');
  ASSERT_TRUE(write_new_file(path, content, 0600));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  std::ifstream in(path);
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_EQ(read.str(), content);

  auto again = write_new_file(path, "other", 0600);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), ErrorCode(EEXIST, boost::system::system_category()));
  std::ifstream unchanged(path);
  std::stringstream kept;
  kept << unchanged.rdbuf();
  EXPECT_EQ(kept.str(), content);

  EXPECT_FALSE(write_new_file(dir / "missing-dir" / "x", "x", 0600));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace atls
