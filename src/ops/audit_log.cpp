#include "ops/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/digest.h"
#include "core/time.h"

namespace atls::ops {
namespace {

constexpr std::array kTable{
    errc_row(AuditErrc::OpenFailed, "open_failed", "cannot open the audit log"),
    errc_row(AuditErrc::WriteFailed, "write_failed", "cannot write an audit record"),
    errc_row(AuditErrc::Unreadable, "unreadable", "cannot read an audit log file"),
    errc_row(AuditErrc::MalformedRecord, "malformed_record",
             "audit record is not a JSON object with seq and prev"),
    errc_row(AuditErrc::HashMismatch, "hash_mismatch",
             "audit record does not chain to the previous one (a record was modified)"),
    errc_row(AuditErrc::SequenceGap, "sequence_gap",
             "audit sequence numbers skip (records were deleted)"),
    errc_row(AuditErrc::SequenceReordered, "sequence_reordered",
             "audit sequence numbers go backwards (records were reordered or repeated)"),
    errc_row(AuditErrc::ChainBroken, "chain_broken",
             "audit files do not continue one chain (missing or misordered file)"),
    errc_row(AuditErrc::Truncated, "truncated",
             "audit log is truncated (partial record, or records missing at the end)"),
    errc_row(AuditErrc::HeadMismatch, "head_mismatch",
             "audit head file disagrees with the last record"),
};
const NamedCategory kCategory{"audit", kTable};

const std::string kGenesisHash(64, '0');

std::string errno_text() {
  return std::strerror(errno);
}

std::filesystem::path with_suffix(const std::filesystem::path& path, std::string_view suffix) {
  std::filesystem::path out = path;
  out += suffix;
  return out;
}

std::filesystem::path rotated(const std::filesystem::path& path, std::size_t n) {
  return with_suffix(path, "." + std::to_string(n));
}

Outcome<std::string> read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure(AuditErrc::Unreadable, path.string() + ": " + errno_text());
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return Failure(AuditErrc::Unreadable, path.string());
  }
  return content.str();
}

struct ParsedRecord {
  std::uint64_t seq = 0;
  std::string prev;
};

bool is_lower_hex64(const std::string& text) {
  if (text.size() != 64) {
    return false;
  }
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::optional<ParsedRecord> parse_record(std::string_view line) {
  auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return std::nullopt;
  }
  const auto seq = json.find("seq");
  const auto prev = json.find("prev");
  if (seq == json.end() || !seq->is_number_unsigned() || prev == json.end() || !prev->is_string()) {
    return std::nullopt;
  }
  ParsedRecord out{seq->get<std::uint64_t>(), prev->get<std::string>()};
  if (out.seq == 0 || !is_lower_hex64(out.prev)) {
    return std::nullopt;
  }
  return out;
}

/// The complete lines of `content`; `partial` is set when it does not end with a newline.
std::vector<std::string_view> split_lines(std::string_view content, bool& partial) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    const std::size_t end = content.find('\n', start);
    if (end == std::string_view::npos) {
      partial = true;
      break;
    }
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct Head {
  std::uint64_t seq = 0;
  std::string hash;
};

std::string render_head(const Head& head) {
  return nlohmann::json{{"seq", head.seq}, {"hash", head.hash}}.dump() + "\n";
}

Outcome<std::optional<Head>> read_head(const std::filesystem::path& log_path) {
  const auto head_path = with_suffix(log_path, ".head");
  std::error_code ec;
  if (!std::filesystem::exists(head_path, ec)) {
    return std::optional<Head>{};
  }
  auto content = read_whole(head_path);
  if (!content) {
    return content.error();
  }
  auto json = nlohmann::json::parse(*content, nullptr, false);
  if (!json.is_object() || !json.contains("seq") || !json["seq"].is_number_unsigned() ||
      !json.contains("hash") || !json["hash"].is_string() ||
      !is_lower_hex64(json["hash"].get<std::string>())) {
    return Failure(AuditErrc::HeadMismatch, head_path.string() + ": not a valid head file");
  }
  return std::optional<Head>(
      Head{json["seq"].get<std::uint64_t>(), json["hash"].get<std::string>()});
}

/// Last record of a file (seq and line hash), if any; fails on a partial last line.
Outcome<std::optional<Head>> last_record(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::optional<Head>{};
  }
  auto content = read_whole(path);
  if (!content) {
    return content.error();
  }
  bool partial = false;
  const auto lines = split_lines(*content, partial);
  if (partial) {
    return Failure(AuditErrc::Truncated,
                   path.string() +
                       ": ends with a partial record (crash or tampering); verify it "
                       "with `atls-proxy audit verify` and move it aside");
  }
  if (lines.empty()) {
    return std::optional<Head>{};
  }
  const auto record = parse_record(lines.back());
  if (!record) {
    return Failure(AuditErrc::MalformedRecord,
                   path.string() + ": line " + std::to_string(lines.size()));
  }
  return std::optional<Head>(Head{record->seq, audit_line_hash(lines.back())});
}

Outcome<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Failure(AuditErrc::WriteFailed, errno_text());
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

const NamedCategory& audit_category() noexcept {
  return kCategory;
}

Outcome<FsyncPolicy> parse_fsync_policy(std::string_view text) {
  if (text == "always") {
    return FsyncPolicy::Always;
  }
  if (text == "interval") {
    return FsyncPolicy::Interval;
  }
  if (text == "never") {
    return FsyncPolicy::Never;
  }
  return Failure(AuditErrc::OpenFailed,
                 "fsync policy must be always, interval or never, not '" + std::string(text) + "'");
}

std::string audit_line_hash(std::string_view line) {
  return sha256_hex(line);
}

AuditLog::AuditLog(std::filesystem::path path, AuditOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

Outcome<std::unique_ptr<AuditLog>> AuditLog::open(std::filesystem::path path,
                                                  AuditOptions options) {
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(path), std::move(options)));
  // Chain state: the live file's last record, else the newest rotated file's.
  auto last = last_record(log->path_);
  if (!last) {
    return last.error();
  }
  if (!*last) {
    last = last_record(rotated(log->path_, 1));
    if (!last) {
      return last.error();
    }
  }
  auto head = read_head(log->path_);
  if (!head) {
    return head.error();
  }
  if (*head) {
    const Head found = last->value_or(Head{0, kGenesisHash});
    if ((*head)->seq != found.seq || (*head)->hash != found.hash) {
      return Failure(AuditErrc::HeadMismatch,
                     log->path_.string() + ": head says seq " + std::to_string((*head)->seq) +
                         ", the log ends at seq " + std::to_string(found.seq) +
                         " (records removed or edited); verify with `atls-proxy audit verify`");
    }
  }
  if (*last) {
    log->seq_ = (*last)->seq;
    log->last_hash_ = (*last)->hash;
  }
  if (auto opened = log->open_file(); !opened) {
    return opened.error();
  }
  log->writer_ = std::thread([raw = log.get()] { raw->run(); });
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
  if (fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::Never) {
      ::fsync(fd_);
    }
    ::close(fd_);
  }
}

Outcome<void> AuditLog::open_file() {
  // 0600: records name peers and measurements; O_APPEND so that concurrent tools (tail -f,
  // log shippers) always see whole records at the end.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return Failure(AuditErrc::OpenFailed, path_.string() + ": " + errno_text());
  }
  struct stat info {};
  if (::fstat(fd_, &info) != 0) {
    return Failure(AuditErrc::OpenFailed, path_.string() + ": " + errno_text());
  }
  size_ = static_cast<std::uint64_t>(info.st_size);
  return {};
}

void AuditLog::append(nlohmann::json event) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(event));
    ++queued_;
  }
  wake_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = queued_;
  drained_.wait(lock, [&] { return processed_ >= target; });
}

std::uint64_t AuditLog::records_written() const {
  std::lock_guard lock(mutex_);
  return written_;
}

std::uint64_t AuditLog::write_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

void AuditLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) {
      return;
    }
    auto event = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    auto written = write_record(std::move(event));
    if (!written && options_.on_write_failure) {
      options_.on_write_failure(written.error());
    }
    if (written && options_.on_record_written) {
      options_.on_record_written();
    }
    lock.lock();
    ++processed_;
    if (written) {
      ++written_;
    } else {
      ++failures_;
    }
    drained_.notify_all();
  }
}

Outcome<void> AuditLog::write_record(nlohmann::json event) {
  if (!event.is_object()) {
    event = nlohmann::json{{"event", std::move(event)}};
  }
  // The chain fields go first so that a reader sees them without parsing the whole record.
  nlohmann::ordered_json record;
  record["seq"] = seq_ + 1;
  record["time"] = format_rfc3339(std::chrono::system_clock::now());
  record["prev"] = last_hash_;
  for (auto& [key, value] : event.items()) {
    if (key != "seq" && key != "time" && key != "prev") {
      record[key] = value;
    }
  }
  // Invalid UTF-8 (never expected: values are ours or hex) is replaced, not thrown.
  const std::string line =
      record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  if (options_.max_bytes != 0 && size_ != 0 && size_ + line.size() + 1 > options_.max_bytes) {
    if (auto rotated_ok = rotate(); !rotated_ok) {
      return rotated_ok.error();
    }
  }
  // One write() per record: with O_APPEND a record is never interleaved with another writer's.
  if (auto ok = write_all(fd_, line + "\n"); !ok) {
    return ok.error();
  }
  size_ += line.size() + 1;
  const auto now = std::chrono::steady_clock::now();
  const bool sync =
      options_.fsync == FsyncPolicy::Always ||
      (options_.fsync == FsyncPolicy::Interval && now - last_sync_ >= std::chrono::seconds(1));
  if (sync) {
    if (::fdatasync(fd_) != 0) {
      return Failure(AuditErrc::WriteFailed, "fdatasync " + path_.string() + ": " + errno_text());
    }
    last_sync_ = now;
  }
  seq_ += 1;
  last_hash_ = audit_line_hash(line);
  return write_head();
}

Outcome<void> AuditLog::write_head() {
  const auto head_path = with_suffix(path_, ".head");
  const auto temp_path = with_suffix(path_, ".head.tmp");
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Failure(AuditErrc::WriteFailed, temp_path.string() + ": " + errno_text());
  }
  auto written = write_all(fd, render_head(Head{seq_, last_hash_}));
  if (written && options_.fsync == FsyncPolicy::Always && ::fdatasync(fd) != 0) {
    written = Failure(AuditErrc::WriteFailed, "fdatasync " + temp_path.string());
  }
  ::close(fd);
  if (!written) {
    return written.error();
  }
  if (::rename(temp_path.c_str(), head_path.c_str()) != 0) {
    return Failure(AuditErrc::WriteFailed, head_path.string() + ": " + errno_text());
  }
  return {};
}

Outcome<void> AuditLog::rotate() {
  if (options_.fsync != FsyncPolicy::Never) {
    ::fsync(fd_);
  }
  ::close(fd_);
  fd_ = -1;
  // Shift <path>.k -> <path>.k+1 (the oldest beyond `keep` is overwritten), then <path> -> .1.
  const std::size_t keep = std::max<std::size_t>(options_.keep, 1);
  std::error_code ec;
  for (std::size_t k = keep - 1; k >= 1; --k) {
    if (std::filesystem::exists(rotated(path_, k), ec)) {
      std::filesystem::rename(rotated(path_, k), rotated(path_, k + 1), ec);
    }
  }
  std::filesystem::rename(path_, rotated(path_, 1), ec);
  if (ec) {
    return Failure(AuditErrc::WriteFailed, "rotate " + path_.string() + ": " + ec.message());
  }
  return open_file();
}

Outcome<AuditVerification> verify_audit_files(const std::vector<std::filesystem::path>& files) {
  AuditVerification out;
  std::optional<std::string> previous_hash;  // hash of the last record seen
  std::uint64_t previous_seq = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    const auto& path = files[f];
    auto content = read_whole(path);
    if (!content) {
      return content.error();
    }
    bool partial = false;
    const auto lines = split_lines(*content, partial);
    std::vector<ParsedRecord> records;
    records.reserve(lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto record = parse_record(lines[i]);
      if (!record) {
        return Failure(AuditErrc::MalformedRecord, path.string() + ":" + std::to_string(i + 1));
      }
      records.push_back(std::move(*record));
    }
    // A missing seq that appears later in the file was moved, not deleted.
    const auto appears_later = [&records](std::size_t from, std::uint64_t low, std::uint64_t high) {
      return std::any_of(records.begin() + static_cast<std::ptrdiff_t>(from), records.end(),
                         [&](const ParsedRecord& r) { return r.seq > low && r.seq < high; });
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string where = path.string() + ":" + std::to_string(i + 1);
      const ParsedRecord* record = &records[i];
      if (!previous_hash) {
        // The first record examined anchors the chain; only seq 1 can be checked against the
        // genesis hash (older files may have been rotated away).
        out.first_seq = record->seq;
        out.anchored = record->seq == 1;
        if (record->seq == 1 && record->prev != kGenesisHash) {
          return Failure(AuditErrc::HashMismatch,
                         where + ": first record does not start the chain");
        }
      } else {
        if (record->seq <= previous_seq) {
          return Failure(AuditErrc::SequenceReordered, where + ": seq " +
                                                           std::to_string(record->seq) + " after " +
                                                           std::to_string(previous_seq));
        }
        if (record->seq != previous_seq + 1) {
          const AuditErrc code = i == 0 ? AuditErrc::ChainBroken
                                 : appears_later(i + 1, previous_seq, record->seq)
                                     ? AuditErrc::SequenceReordered
                                     : AuditErrc::SequenceGap;
          return Failure(code, where + ": seq " + std::to_string(record->seq) + " after " +
                                   std::to_string(previous_seq));
        }
        if (record->prev != *previous_hash) {
          return Failure(i == 0 ? AuditErrc::ChainBroken : AuditErrc::HashMismatch,
                         where + ": prev does not match the hash of record " +
                             std::to_string(previous_seq) + " (that record was modified)");
        }
      }
      previous_hash = audit_line_hash(lines[i]);
      previous_seq = record->seq;
      ++out.records;
    }
    if (partial) {
      return Failure(AuditErrc::Truncated, path.string() +
                                               ": ends with a partial record after line " +
                                               std::to_string(lines.size()));
    }
  }
  out.last_seq = previous_seq;
  out.last_hash = previous_hash.value_or(kGenesisHash);
  if (!files.empty()) {
    auto head = read_head(files.back());
    if (!head) {
      return head.error();
    }
    if (*head) {
      if ((*head)->seq > out.last_seq) {
        return Failure(AuditErrc::Truncated,
                       files.back().string() + ": head says seq " + std::to_string((*head)->seq) +
                           " but the log ends at seq " + std::to_string(out.last_seq) +
                           " (records cut off the end)");
      }
      if ((*head)->seq != out.last_seq || (*head)->hash != out.last_hash) {
        return Failure(AuditErrc::HeadMismatch,
                       files.back().string() + ": head (seq " + std::to_string((*head)->seq) +
                           ") does not match the last record (seq " + std::to_string(out.last_seq) +
                           ", the last record was modified?)");
      }
      out.head_checked = true;
    }
  }
  return out;
}

}  // namespace atls::ops
