// Cache file format and directory operations: round trip, every corruption rejected with
// collateral.cache_file_malformed, atomic replacement.
#include "attest/collateral/cache_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "attest/collateral/errors.h"
#include "support/process.h"

namespace atls::attest::collateral {
namespace {

const SystemTime kFetched = SystemTime(std::chrono::seconds(1'750'000'000));

CacheFile sample() {
  CacheFile file;
  file.key = "tdx-00a06e570000-platform";
  file.fetched_at = kFetched;
  // Binary-safe: NULs, newlines and high bytes.
  file.payload = std::string("{\"a\":1}\n\0\xff payload", 18);
  return file;
}

std::string id_of(const Outcome<CacheFile>& result) {
  return result ? "ok" : error_id(result.error().code);
}

TEST(CollateralCacheFile, RoundTrip) {
  const std::string encoded = encode_cache_file(sample());
  auto parsed = parse_cache_file(encoded);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->key, sample().key);
  EXPECT_EQ(parsed->fetched_at, kFetched);
  EXPECT_EQ(parsed->payload, sample().payload);
}

TEST(CollateralCacheFile, EveryTruncationIsRejected) {
  const std::string encoded = encode_cache_file(sample());
  for (std::size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_EQ(id_of(parse_cache_file(encoded.substr(0, n))), "collateral.cache_file_malformed")
        << n;
  }
  EXPECT_EQ(id_of(parse_cache_file(encoded + "x")), "collateral.cache_file_malformed");
}

TEST(CollateralCacheFile, EveryByteFlipIsRejected) {
  const std::string encoded = encode_cache_file(sample());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    std::string flipped = encoded;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    const auto parsed = parse_cache_file(flipped);
    // A flip inside the fetch time or the key can still give a well-formed file (another
    // time, another valid key — which the cache then rejects because it is not the file's
    // name); everything else is detected (magic, JSON, size, digest, payload).
    if (parsed) {
      EXPECT_TRUE(parsed->fetched_at != kFetched || parsed->key != sample().key) << i;
      EXPECT_EQ(parsed->payload, sample().payload) << i;
    }
  }
}

TEST(CollateralCacheFile, RejectsBadMetadata) {
  const std::string payload = "p";
  const auto with_metadata = [&](const std::string& metadata) {
    return std::string(kCacheFileMagic) + "\n" + metadata + "\n" + payload;
  };
  const std::string digest =
      "148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940";  // SHA-256("p")
  const std::string good =
      "{\"key\":\"tdx-k\",\"fetched_at\":1,\"payload_size\":1,"
      "\"payload_sha256\":\"" +
      digest + "\"}";
  ASSERT_TRUE(parse_cache_file(with_metadata(good)));
  for (const std::string& bad : {
           std::string("{\"key\":\"tdx-k\",\"fetched_at\":1,\"payload_size\":1}"),
           std::string("{\"key\":\"TDX-K\",\"fetched_at\":1,\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("{\"key\":\"../x\",\"fetched_at\":1,\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("{\"key\":\"tdx-k\",\"fetched_at\":-1,\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("{\"key\":\"tdx-k\",\"fetched_at\":\"1\",\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("{\"key\":\"tdx-k\",\"fetched_at\":1,\"payload_size\":2,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("{\"key\":\"tdx-k\",\"fetched_at\":1,\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\",\"extra\":1}"),
           std::string("{\"key\":\"tdx-k\",\"key\":\"tdx-k\",\"fetched_at\":1,\"payload_size\":1,"
                       "\"payload_sha256\":\"" +
                       digest + "\"}"),
           std::string("[1]"),
           std::string(5000, ' '),
       }) {
    EXPECT_EQ(id_of(parse_cache_file(with_metadata(bad))), "collateral.cache_file_malformed")
        << bad;
  }
}

TEST(CollateralCacheFile, KeyValidation) {
  EXPECT_TRUE(valid_cache_key("tdx-00a06e570000-platform"));
  EXPECT_TRUE(valid_cache_key("snp.milan_vcek-1"));
  for (const char* bad : {"", ".hidden", "a/b", "A", "a b", "a\n"}) {
    EXPECT_FALSE(valid_cache_key(bad)) << bad;
  }
  EXPECT_FALSE(valid_cache_key(std::string(129, 'a')));
  EXPECT_TRUE(valid_cache_key(std::string(128, 'a')));
}

TEST(CollateralCacheFile, AtomicWriteReplacesAndLeavesNoTemporaries) {
  atls::testing::TempDir dir;
  const auto directory = std::filesystem::path(dir.path()) / "nested" / "cache";
  const auto path = cache_file_path(directory, "tdx-a");
  ASSERT_TRUE(write_file_atomically(path, "first"));
  ASSERT_TRUE(write_file_atomically(path, "second"));
  auto content = read_file_limited(path, 100);
  ASSERT_TRUE(content);
  EXPECT_EQ(*content, "second");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644U);
  // A leftover temporary and foreign files are not cache entries.
  std::ofstream(directory / ".tdx-b.cache.1.2.tmp") << "x";
  std::ofstream(directory / "notes.txt") << "x";
  std::filesystem::create_directory(directory / "sub.cache");
  auto files = list_cache_files(directory);
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 1U);
  EXPECT_EQ(files->front().filename(), "tdx-a.cache");

  EXPECT_EQ(error_id(read_file_limited(path, 3).error().code), "collateral.cache_file_malformed");
  EXPECT_EQ(error_id(read_file_limited(directory / "absent.cache", 3).error().code),
            "collateral.cache_io_failed");
  auto none = list_cache_files(directory / "absent");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(CollateralCacheFile, WriteFailureIsNamed) {
  atls::testing::TempDir dir;
  // The parent "directory" is a regular file.
  std::ofstream(std::filesystem::path(dir.path()) / "file") << "x";
  auto written =
      write_file_atomically(std::filesystem::path(dir.path()) / "file" / "tdx-a.cache", "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(error_id(written.error().code), "collateral.cache_io_failed");
}

}  // namespace
}  // namespace atls::attest::collateral
