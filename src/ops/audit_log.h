#pragma once
// A tamper-evident audit log: one JSON object per line, hash-chained.
//
// Every record carries `seq` (1, 2, ... across rotations), `time` (RFC 3339 UTC) and `prev` =
// SHA-256 (lowercase hex) of the previous record's line without its newline (64 zeros before
// the first record ever). Editing, deleting or reordering a record breaks the chain at that
// point. A head file `<path>.head` holds the seq and hash of the latest record (replaced
// atomically after every append), so cutting records off the end is detected too. Rotation
// renames the full file to `<path>.1` (shifting older ones up to `<path>.<keep>`) and continues
// the same chain in a fresh file. `atls-proxy audit verify FILE...` checks a sequence of files.
//
// The log is tamper-EVIDENT, not tamper-proof: someone who can rewrite the whole file and its
// head can forge a consistent chain. Ship records off the host (journald, a log collector) when
// that matters (docs/operations.md).
//
// Records are written by a dedicated thread: append() only queues, so handshakes never wait for
// the disk. Durability per FsyncPolicy: fsync after every record, at most once per second, or
// never (the kernel decides).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace atls::ops {

enum class AuditErrc {
  OpenFailed = 1,
  WriteFailed,
  Unreadable,
  MalformedRecord,
  HashMismatch,
  SequenceGap,
  SequenceReordered,
  ChainBroken,
  Truncated,
  HeadMismatch,
};

ATLS_DECLARE_ERRC(AuditErrc, audit_category)

}  // namespace atls::ops

ATLS_REGISTER_ERRC(atls::ops::AuditErrc);

namespace atls::ops {

enum class FsyncPolicy { Always, Interval, Never };

/// "always" | "interval" | "never".
Outcome<FsyncPolicy> parse_fsync_policy(std::string_view text);

struct AuditOptions {
  FsyncPolicy fsync = FsyncPolicy::Always;
  /// Rotate before a record would take the file past this size (0 = never rotate).
  std::uint64_t max_bytes = 64ULL << 20;
  /// Rotated files kept: `<path>.1` (newest) ... `<path>.<keep>`; older ones are deleted.
  std::size_t keep = 10;
  /// Called (on the writer thread) when a record could not be written; for metrics and logs.
  std::function<void(const Failure&)> on_write_failure;
  /// Called (on the writer thread) after each record reached the file.
  std::function<void()> on_record_written;
};

class AuditLog {
 public:
  /// Opens (or creates) `path` and continues the chain from the last record of `path` (or of
  /// `path.1` when `path` is empty). Refuses a log whose chain state is inconsistent (partial
  /// last line, head file disagreeing with the records): audit.truncated / audit.head_mismatch —
  /// the operator inspects it with `audit verify` and moves it aside.
  static Outcome<std::unique_ptr<AuditLog>> open(std::filesystem::path path, AuditOptions options);

  ~AuditLog();  ///< writes everything queued, then stops the writer thread
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /// Queues `event` (a JSON object; `seq`, `time` and `prev` are added by the writer, so they
  /// reflect the order records reach the file). Thread-safe, never blocks on I/O.
  void append(nlohmann::json event);

  /// Blocks until every record queued before the call is written (and synced per policy).
  void flush();

  std::uint64_t records_written() const;
  std::uint64_t write_failures() const;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  AuditLog(std::filesystem::path path, AuditOptions options);
  void run();
  Outcome<void> write_record(nlohmann::json event);
  Outcome<void> open_file();
  Outcome<void> rotate();
  Outcome<void> write_head();

  std::filesystem::path path_;
  AuditOptions options_;

  // Queue shared with callers.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<nlohmann::json> queue_;
  std::uint64_t queued_ = 0;     // records ever queued
  std::uint64_t processed_ = 0;  // records ever taken off the queue (written or failed)
  std::uint64_t written_ = 0;
  std::uint64_t failures_ = 0;
  bool stopping_ = false;

  // Chain state: writer thread only (and open() before it starts).
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t seq_ = 0;
  std::string last_hash_ = std::string(64, '0');
  std::chrono::steady_clock::time_point last_sync_{};

  std::thread writer_;
};

struct AuditVerification {
  std::uint64_t records = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::string last_hash;
  /// The first file starts at seq 1 (so the chain is anchored at the genesis hash).
  bool anchored = false;
  /// `<last file>.head` existed and matched.
  bool head_checked = false;
};

/// Verifies `files` in order (oldest first, e.g. audit.json.2 audit.json.1 audit.json). The
/// head file of the last one is checked when present. Returns the first failure with a detail
/// naming the file and line: audit.hash_mismatch (a record was edited), audit.sequence_gap
/// (records deleted), audit.sequence_reordered, audit.chain_broken (files out of order or not
/// continuous), audit.truncated (a partial last line, or fewer records than the head says),
/// audit.head_mismatch, audit.malformed_record, audit.unreadable.
Outcome<AuditVerification> verify_audit_files(const std::vector<std::filesystem::path>& files);

/// The chain hash of one record line (without its newline).
std::string audit_line_hash(std::string_view line);

}  // namespace atls::ops
