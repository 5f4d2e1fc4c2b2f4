#pragma once
// A fake Linux configfs-tsm report interface for tests (the "kernel" side of
// Documentation/ABI/testing/configfs-tsm-report), so that the production client
// (src/attest/tsm/tsm_client.h) runs unchanged against a temporary directory.
//
// An in-process thread watches `<base>/report` with inotify and plays configfs:
//   * mkdir <root>/<entry>      → the fake populates the entry with `provider`, `privlevel` and
//                                 `privlevel_floor` (if supported), an empty `inblob`, and
//                                 `generation` ("0") LAST, so a client that sees `generation`
//                                 sees a complete entry;
//   * write + close `privlevel` → parsed and range-checked like tsm_report_privlevel_store();
//                                 `generation` + 1;
//   * write + close `inblob`    → `generation` + 1, then the generator callback turns the
//                                 request (inblob, privlevel) into `outblob`/`auxblob`, which
//                                 are published (auxblob first, outblob last);
//   * close of the entry directory descriptor → the attributes are removed, standing in for
//                                 configfs tearing an item down on rmdir (see limits);
//   * rmdir <root>/<entry>      → the entry is forgotten.
// Every file is published by rename() from a staging directory, so readers never see partial
// content.
//
// Limits (where a real configfs behaves differently; the client tolerates both):
//   * Attributes appear shortly after mkdir (configfs: atomically with it), and `outblob` only
//     after `inblob` has been written (configfs: always present; reading it before writing
//     inblob fails with EINVAL). The client waits a bounded time for attributes to appear.
//   * A plain directory cannot be removed while it has files, so the fake empties an entry when
//     its directory descriptor is closed; the client holds one for the life of the entry and
//     closes it right before rmdir, retrying ENOTEMPTY within a bound. A client that never
//     opens the entry directory would leak entries here (never on configfs).
//   * Writes cannot fail synchronously: an invalid privlevel is ignored (no generation bump)
//     instead of failing write() with EINVAL, and mkdir never fails with ENXIO.
//   * A failing report generation (FakeTsmResponse::read_error) is modelled by publishing
//     `outblob` as a directory, so read() fails with EISDIR instead of the provider's errno.
//   * Reports are produced eagerly on the inblob write, not lazily on the outblob read.
//   * No service_provider/service_guid/manifestblob (SVSM) attributes.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"

namespace atls::testing {

/// What the fake kernel hands to the provider (the generator callback).
struct FakeTsmRequest {
  std::string entry;                       ///< the entry directory's name
  Bytes inblob;                            ///< as written (the client writes exactly 64 bytes)
  std::optional<std::uint32_t> privlevel;  ///< last accepted privlevel write, if any
  std::uint64_t generation = 0;            ///< `generation` the report is produced for
};

struct FakeTsmResponse {
  Bytes outblob;
  /// Published as `auxblob` when the provider has one (FakeConfigfsTsmOptions::auxblob);
  /// empty models a provider that returned no auxiliary data.
  Bytes auxblob;
  /// true: report generation fails (outblob becomes unreadable, see the limits).
  bool read_error = false;
};

using FakeTsmGenerator = std::function<FakeTsmResponse(const FakeTsmRequest&)>;

struct FakeConfigfsTsmOptions {
  std::string provider = "sev_guest";
  /// `privlevel` and `privlevel_floor` attributes (SEV-SNP has them, TDX does not).
  bool privlevel = true;
  std::uint32_t privlevel_floor = 0;
  /// `auxblob` attribute (SEV-SNP has it, TDX does not).
  bool auxblob = true;
  /// false: new entries are never populated (a client sees its attributes missing).
  bool populate = true;
};

class FakeConfigfsTsm final {
 public:
  /// Creates `<base>/report` (the report root to give the client) and a staging directory next
  /// to it, and starts watching. Check ok() afterwards.
  FakeConfigfsTsm(const std::filesystem::path& base, FakeTsmGenerator generator,
                  FakeConfigfsTsmOptions options = {});
  ~FakeConfigfsTsm();
  FakeConfigfsTsm(const FakeConfigfsTsm&) = delete;
  FakeConfigfsTsm& operator=(const FakeConfigfsTsm&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::filesystem::path& root() const { return root_; }

  /// The next `count` inblob writes are each followed by a simulated concurrent writer: the
  /// generation advances once more and the report is produced for the other writer's inblob
  /// (all 0xEE), as on a real entry shared by two processes.
  void inject_concurrent_writer(unsigned count);

  /// Every request the provider saw, in order.
  std::vector<FakeTsmRequest> requests() const;
  std::uint64_t entries_created() const;
  std::uint64_t entries_removed() const;
  /// Entries that exist right now (created and not yet removed).
  std::vector<std::string> live_entries() const;

 private:
  struct Entry {
    std::string name;
    std::optional<std::uint32_t> privlevel;
    std::uint64_t generation = 0;
    bool populated = false;
  };

  void run();
  void on_entry_created(const std::string& name);
  void on_entry_closed(const std::string& name);
  void on_attribute_written(int watch, const std::string& attribute);
  bool publish(const std::filesystem::path& entry, const std::string& attribute,
               const Bytes& content);
  bool publish_directory(const std::filesystem::path& entry, const std::string& attribute);
  void publish_generation(const Entry& entry);

  std::filesystem::path root_;
  std::filesystem::path staging_;
  FakeTsmGenerator generator_;
  FakeConfigfsTsmOptions options_;
  std::string error_;
  int inotify_ = -1;
  int stop_ = -1;  // eventfd
  int root_watch_ = -1;
  std::uint64_t staging_counter_ = 0;

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // by name
  std::map<int, std::string> watches_;    // watch descriptor → entry name
  std::vector<FakeTsmRequest> requests_;
  unsigned concurrent_writers_ = 0;
  std::uint64_t created_ = 0;
  std::uint64_t removed_ = 0;
  std::thread thread_;
};

}  // namespace atls::testing
