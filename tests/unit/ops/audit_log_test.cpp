#include "ops/audit_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/digest.h"

namespace atls::ops {
namespace {

namespace fs = std::filesystem;

AuditOptions never_sync() {
  AuditOptions options;
  options.fsync = FsyncPolicy::Never;
  return options;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("atls-audit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "audit.json";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_records(int count, AuditOptions options = {}) {
    auto log = AuditLog::open(path_, std::move(options));
    ASSERT_TRUE(log) << log.error().describe();
    for (int i = 0; i < count; ++i) {
      (*log)->append(nlohmann::json{{"event", "test"}, {"n", i}});
    }
    (*log)->flush();
    EXPECT_EQ((*log)->write_failures(), 0u);
  }

  static std::vector<std::string> lines_of(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    return lines;
  }

  static void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& line : lines) {
      out << line << '\n';
    }
  }

  ErrorCode verify_error(const std::vector<fs::path>& files) {
    auto verified = verify_audit_files(files);
    return verified ? ErrorCode{} : verified.error().code;
  }

  fs::path dir_;
  fs::path path_;
};

TEST_F(AuditLogTest, RecordsAreChainedFromTheGenesisHash) {
  write_records(3);
  const auto lines = lines_of(path_);
  ASSERT_EQ(lines.size(), 3u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["prev"], std::string(64, '0'));
  EXPECT_EQ(first["event"], "test");
  EXPECT_TRUE(first.contains("time"));
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["seq"], 2);
  EXPECT_EQ(second["prev"], sha256_hex(lines[0]));
  auto verified = verify_audit_files({path_});
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->records, 3u);
  EXPECT_TRUE(verified->anchored);
  EXPECT_TRUE(verified->head_checked);
  EXPECT_EQ(verified->last_hash, sha256_hex(lines[2]));
}

TEST_F(AuditLogTest, CallerCannotOverrideChainFields) {
  auto log = AuditLog::open(path_, {});
  ASSERT_TRUE(log);
  (*log)->append(nlohmann::json{{"seq", 99}, {"prev", "forged"}, {"time", "x"}, {"a", 1}});
  (*log)->flush();
  const auto record = nlohmann::json::parse(lines_of(path_).at(0));
  EXPECT_EQ(record["seq"], 1);
  EXPECT_EQ(record["prev"], std::string(64, '0'));
  EXPECT_NE(record["time"], "x");
  EXPECT_EQ(record["a"], 1);
}

TEST_F(AuditLogTest, ReopeningContinuesTheChain) {
  write_records(2);
  write_records(2);
  const auto lines = lines_of(path_);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["seq"], 3);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["prev"], sha256_hex(lines[1]));
  EXPECT_TRUE(verify_audit_files({path_}));
}

TEST_F(AuditLogTest, RotationKeepsOneChainAcrossFiles) {
  AuditOptions options;
  options.max_bytes = 600;  // a few records per file
  options.keep = 50;
  write_records(20, options);
  ASSERT_TRUE(fs::exists(dir_ / "audit.json.1"));
  std::vector<fs::path> files;
  for (int k = 50; k >= 1; --k) {
    if (fs::exists(dir_ / ("audit.json." + std::to_string(k)))) {
      files.push_back(dir_ / ("audit.json." + std::to_string(k)));
    }
  }
  ASSERT_GE(files.size(), 2u);
  files.push_back(path_);
  auto verified = verify_audit_files(files);
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->records, 20u);
  EXPECT_TRUE(verified->anchored);
  // Only the newest files: still a valid (unanchored) chain.
  auto tail = verify_audit_files({dir_ / "audit.json.1", path_});
  ASSERT_TRUE(tail) << tail.error().describe();
  EXPECT_FALSE(tail->anchored);
  // Files out of order break the chain.
  EXPECT_NE(verify_error({path_, dir_ / "audit.json.1"}), ErrorCode{});
  // Reopening after a rotation continues from the live file.
  write_records(1, options);
  EXPECT_TRUE(verify_audit_files({dir_ / "audit.json.1", path_}));
}

TEST_F(AuditLogTest, RotationDeletesBeyondKeep) {
  AuditOptions options;
  options.max_bytes = 300;
  options.keep = 2;
  write_records(30, options);
  EXPECT_TRUE(fs::exists(dir_ / "audit.json.1"));
  EXPECT_TRUE(fs::exists(dir_ / "audit.json.2"));
  EXPECT_FALSE(fs::exists(dir_ / "audit.json.3"));
  EXPECT_TRUE(verify_audit_files({dir_ / "audit.json.2", dir_ / "audit.json.1", path_}));
}

TEST_F(AuditLogTest, DetectsAnEditedRecord) {
  write_records(4);
  auto lines = lines_of(path_);
  auto record = nlohmann::json::parse(lines[1]);
  record["n"] = 42;
  lines[1] = record.dump();
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::HashMismatch));
}

TEST_F(AuditLogTest, DetectsAnEditedLastRecordThroughTheHead) {
  write_records(3);
  auto lines = lines_of(path_);
  auto record = nlohmann::json::parse(lines[2]);
  record["n"] = 42;
  lines[2] = record.dump();
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::HeadMismatch));
  // And the writer refuses to continue such a log.
  auto reopened = AuditLog::open(path_, {});
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, make_error_code(AuditErrc::HeadMismatch));
}

TEST_F(AuditLogTest, DetectsADeletedRecord) {
  write_records(4);
  auto lines = lines_of(path_);
  lines.erase(lines.begin() + 1);
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::SequenceGap));
}

TEST_F(AuditLogTest, DetectsReorderedRecords) {
  write_records(4);
  auto lines = lines_of(path_);
  std::swap(lines[1], lines[2]);
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::SequenceReordered));
}

TEST_F(AuditLogTest, DetectsRecordsCutOffTheEnd) {
  write_records(4);
  auto lines = lines_of(path_);
  lines.pop_back();
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::Truncated));
}

TEST_F(AuditLogTest, DetectsAPartialLastLine) {
  write_records(2);
  {
    std::ofstream out(path_, std::ios::app);
    out << R"({"seq":3,"prev":")";
  }
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::Truncated));
  auto reopened = AuditLog::open(path_, {});
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, make_error_code(AuditErrc::Truncated));
}

TEST_F(AuditLogTest, DetectsAForgedFirstRecord) {
  write_records(2);
  auto lines = lines_of(path_);
  auto record = nlohmann::json::parse(lines[0]);
  record["prev"] = std::string(64, 'a');
  lines[0] = record.dump();
  write_lines(path_, lines);
  EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::HashMismatch));
}

TEST_F(AuditLogTest, RejectsMalformedRecords) {
  for (const std::string bad :
       {"not json", "[]", R"({"seq":1})", R"({"seq":0,"prev":"00"})",
        R"({"seq":"1","prev":"0000000000000000000000000000000000000000000000000000000000000000"})",
        R"({"seq":1,"prev":"ZZ00000000000000000000000000000000000000000000000000000000000000"})"}) {
    write_lines(path_, {bad});
    EXPECT_EQ(verify_error({path_}), make_error_code(AuditErrc::MalformedRecord)) << bad;
  }
}

TEST_F(AuditLogTest, MissingFileIsUnreadable) {
  EXPECT_EQ(verify_error({dir_ / "nope.json"}), make_error_code(AuditErrc::Unreadable));
}

TEST_F(AuditLogTest, UnwritableDirectoryFailsToOpen) {
  auto log = AuditLog::open(dir_ / "missing-dir" / "audit.json", {});
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().code, make_error_code(AuditErrc::OpenFailed));
}

TEST_F(AuditLogTest, ConcurrentAppendsFormOneChain) {
  {
    auto log = AuditLog::open(path_, never_sync());
    ASSERT_TRUE(log);
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          (*log)->append(nlohmann::json{{"thread", t}, {"i", i}});
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }  // the destructor writes what is queued
  auto verified = verify_audit_files({path_});
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->records, 200u);
}

TEST(AuditFsyncPolicy, Parses) {
  EXPECT_EQ(*parse_fsync_policy("always"), FsyncPolicy::Always);
  EXPECT_EQ(*parse_fsync_policy("interval"), FsyncPolicy::Interval);
  EXPECT_EQ(*parse_fsync_policy("never"), FsyncPolicy::Never);
  EXPECT_FALSE(parse_fsync_policy("sometimes"));
}

}  // namespace
}  // namespace atls::ops
