#include "ops/file_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>

namespace atls::ops {
namespace {

using namespace std::chrono_literals;

class FileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("atls-file-watch-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(directory_);
    auto watch = FileWatch::create(io_.get_executor(), 50ms, [this] { ++changes_; });
    ASSERT_TRUE(watch) << watch.error().describe();
    watch_ = *watch;
  }
  void TearDown() override {
    watch_->stop();
    std::filesystem::remove_all(directory_);
  }
  // Runs the io_context for `duration` (events, then the settle time).
  void run_for(std::chrono::milliseconds duration) {
    boost::asio::steady_timer stop(io_, duration);
    stop.async_wait([this](const boost::system::error_code&) { io_.stop(); });
    io_.restart();
    io_.run();
  }
  static void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file) << text;
  }

  boost::asio::io_context io_;
  std::filesystem::path directory_;
  std::shared_ptr<FileWatch> watch_;
  int changes_ = 0;
};

TEST_F(FileWatchTest, InPlaceWritesAndRenamesCountOnceEachAfterTheSettleTime) {
  const auto policy = directory_ / "policy.json";
  write(policy, "[]");
  ASSERT_TRUE(watch_->watch({policy}));
  // Several writes in quick succession settle into one change.
  write(policy, "[1]");
  write(policy, "[2]");
  run_for(300ms);
  EXPECT_EQ(changes_, 1);
  // An atomic replace by rename.
  write(directory_ / "policy.json.tmp", "[3]");
  std::filesystem::rename(directory_ / "policy.json.tmp", policy);
  run_for(300ms);
  EXPECT_EQ(changes_, 2);
}

TEST_F(FileWatchTest, OtherFilesInTheDirectoryAreIgnored) {
  const auto policy = directory_ / "policy.json";
  ASSERT_TRUE(watch_->watch({policy}));
  write(directory_ / "unrelated", "x");
  run_for(200ms);
  EXPECT_EQ(changes_, 0);
  // A file that did not exist when the watch started is seen once it is created.
  write(policy, "[]");
  run_for(300ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(FileWatchTest, KubernetesDataSwapCounts) {
  ASSERT_TRUE(watch_->watch({directory_ / "policy.json"}));
  std::filesystem::create_directory_symlink(directory_, directory_ / "..data_tmp");
  std::filesystem::rename(directory_ / "..data_tmp", directory_ / "..data");
  run_for(300ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(FileWatchTest, AMissingDirectoryIsAnErrorAndKeepsThePreviousSet) {
  const auto policy = directory_ / "policy.json";
  ASSERT_TRUE(watch_->watch({policy}));
  auto failed = watch_->watch({directory_ / "absent" / "policy.json"});
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().describe().find("absent"), std::string::npos);
  EXPECT_EQ(watch_->files().count(policy), 1u);
  write(policy, "[]");
  run_for(300ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(FileWatchTest, ReplacingTheSetStopsWatchingTheOldFiles) {
  const auto first = directory_ / "first.json";
  const auto other = directory_ / "other";
  std::filesystem::create_directory(other);
  const auto second = other / "second.json";
  ASSERT_TRUE(watch_->watch({first}));
  ASSERT_TRUE(watch_->watch({second}));
  write(first, "[]");
  run_for(200ms);
  EXPECT_EQ(changes_, 0);
  write(second, "[]");
  run_for(300ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(FileWatchTest, NoCallbackAfterStop) {
  const auto policy = directory_ / "policy.json";
  ASSERT_TRUE(watch_->watch({policy}));
  write(policy, "[]");
  watch_->stop();
  run_for(200ms);
  EXPECT_EQ(changes_, 0);
}

}  // namespace
}  // namespace atls::ops
