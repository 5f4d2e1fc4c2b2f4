// `audit verify FILE...`: checks a tamper-evident audit log (ops/audit_log.h). Files are given
// oldest first (audit.json.2 audit.json.1 audit.json); the live file's head is checked too.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "ops/audit_log.h"

namespace atls::cli {

void add_audit_command(CLI::App& app, GlobalOptions& /*global*/, std::function<int()>& action) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* command = app.add_subcommand("audit", "Tamper-evident audit log tools");
  auto* verify = command->add_subcommand(
      "verify", "Verify the hash chain of audit log files (oldest first); exit 6 on tampering");
  verify->add_option("files", *files, "Audit log files, oldest first")->required();
  command->require_subcommand(1);
  verify->callback([&action, files] {
    action = [files] {
      std::vector<std::filesystem::path> paths(files->begin(), files->end());
      auto verified = ops::verify_audit_files(paths);
      if (!verified) {
        spdlog::error("audit log INVALID: {}", verified.error().describe());
        return static_cast<int>(kExitAuditInvalid);
      }
      std::printf("audit log OK: %llu records, seq %llu..%llu%s%s\n",
                  static_cast<unsigned long long>(verified->records),
                  static_cast<unsigned long long>(verified->first_seq),
                  static_cast<unsigned long long>(verified->last_seq),
                  verified->anchored ? ", anchored at the first record"
                                     : ", earlier records not given (chain checked from the first "
                                       "file on)",
                  verified->head_checked ? ", head matches" : ", no head file");
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace atls::cli
