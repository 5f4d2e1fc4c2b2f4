#include "cli/reload.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/app.h"

namespace atls::cli {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("atls-reload-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path;
}

// The arguments as CLI11 takes them (reversed).
std::vector<std::string> reversed(std::vector<std::string> arguments) {
  return {arguments.rbegin(), arguments.rend()};
}

TEST(ReloadableOptions, PolicyAndLogLevelAndTlsFilesOnly) {
  EXPECT_TRUE(is_reloadable_option("--measurements-file", false));
  EXPECT_TRUE(is_reloadable_option("--accept-tcb-status", false));
  EXPECT_TRUE(is_reloadable_option("--log-debug", false));
  EXPECT_FALSE(is_reloadable_option("--admin-listen-addr", true));
  EXPECT_FALSE(is_reloadable_option("--audit-log", true));
  EXPECT_FALSE(is_reloadable_option("server --listen-addr", true));
  EXPECT_FALSE(is_reloadable_option("server --server-attestation-type", true));
  EXPECT_TRUE(is_reloadable_option("server --tls-certificate-path", true));
  // Without a TLS reloader (ephemeral certificate) certificate options need a restart.
  EXPECT_FALSE(is_reloadable_option("server --tls-certificate-path", false));
  // A subcommand option that happens to share a global reloadable name is not one.
  EXPECT_FALSE(is_reloadable_option("server --log-debug", true));
}

TEST(MergeReloadable, TakesReloadableOptionsAndReportsTheRest) {
  const auto policy_a = write_temp("a.json", "[]");
  const auto config = write_temp("server.yaml",
                                 "mode: server\nproxy: {listen: \"127.0.0.1:0\"}\n"
                                 "attestation: {policy: {measurements_file: \"" +
                                     policy_a.string() + "\"}}\n");
  const auto arguments = reversed({"--config", config.string(), "server", "127.0.0.1:1"});
  auto running = parse_command_line(arguments);
  ASSERT_TRUE(running) << running.error().describe();
  EXPECT_EQ(running->launch.config_path, config.string());
  ASSERT_TRUE(running->measurements_file);
  EXPECT_EQ(*running->measurements_file, policy_a.string());
  EXPECT_EQ(running->launch.values.at("server --listen-addr"),
            std::vector<std::string>{"127.0.0.1:0"});

  std::ofstream(config)
      << "mode: server\nproxy: {listen: \"127.0.0.1:9\"}\nlogging: {level: debug}\n"
         "attestation: {policy: {measurements_file: \"b.json\"}}\n";
  auto reparsed = parse_command_line(arguments);
  ASSERT_TRUE(reparsed) << reparsed.error().describe();
  std::vector<std::string> needs_restart;
  const auto merged = merge_reloadable(*running, *reparsed, true, needs_restart);
  EXPECT_EQ(merged.measurements_file, std::optional<std::string>("b.json"));
  EXPECT_TRUE(merged.log_debug);
  EXPECT_EQ(needs_restart, std::vector<std::string>{"server --listen-addr"});
  // The running value of a restart-only option is kept, so the next reload reports it again.
  EXPECT_EQ(merged.launch.values.at("server --listen-addr"),
            std::vector<std::string>{"127.0.0.1:0"});
  EXPECT_EQ(merged.launch.values.at("--measurements-file"), std::vector<std::string>{"b.json"});

  std::ofstream(config) << "mode: server\nbogus: 1\n";
  auto broken = parse_command_line(arguments);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().describe().find("cli.config_invalid"), std::string::npos);
  EXPECT_NE(broken.error().describe().find("unknown key 'bogus'"), std::string::npos);
  std::filesystem::remove(config);
  std::filesystem::remove(policy_a);
}

TEST(MergeReloadable, CertificateFilesFollowTheFileButAreNeverDropped) {
  GlobalOptions running;
  running.command_tls.server = ServerTlsFlags{"old.key", "old.crt", false, std::nullopt};
  running.launch.values["server --tls-certificate-path"] = {"old.crt"};
  GlobalOptions renamed = running;
  renamed.command_tls.server = ServerTlsFlags{"new.key", "new.crt", false, std::nullopt};
  renamed.launch.values["server --tls-certificate-path"] = {"new.crt"};
  std::vector<std::string> needs_restart;
  auto merged = merge_reloadable(running, renamed, true, needs_restart);
  EXPECT_EQ(merged.command_tls.server->certificate_path, std::optional<std::string>("new.crt"));
  EXPECT_TRUE(needs_restart.empty());

  // Without certificate files the server would switch to an ephemeral certificate: a restart.
  GlobalOptions dropped = running;
  dropped.command_tls.server = ServerTlsFlags{};
  dropped.launch.values.erase("server --tls-certificate-path");
  needs_restart.clear();
  merged = merge_reloadable(running, dropped, true, needs_restart);
  EXPECT_EQ(merged.command_tls.server->certificate_path, std::optional<std::string>("old.crt"));
  EXPECT_EQ(needs_restart, std::vector<std::string>{"server --tls-certificate-path"});
}

TEST(ReloadableFiles, LocalFilesOnly) {
  GlobalOptions options;
  options.launch.config_path = "proxy.yaml";
  options.measurements_file = "https://example.invalid/policy.json";
  options.collateral_files = {"collateral.json"};
  options.command_tls.client = ClientTlsFlags{"ca.pem", std::nullopt, std::nullopt, false};
  EXPECT_EQ(reloadable_files(options),
            (std::vector<std::string>{"proxy.yaml", "collateral.json", "ca.pem"}));
  options.measurements_file = "policy.json";
  EXPECT_EQ(reloadable_files(options),
            (std::vector<std::string>{"proxy.yaml", "policy.json", "collateral.json", "ca.pem"}));
}

}  // namespace
}  // namespace atls::cli
