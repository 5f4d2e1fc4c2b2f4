#include "cli/config_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace atls::cli {
namespace {

// A small application shaped like the real one: a global option with an environment variable,
// and a `server` subcommand with a positional and a flag.
struct TestApp {
  TestApp() {
    app.add_option("--measurements-file", measurements);
    app.add_option("--max-attestation-age", age);
    app.add_flag("--log-json", log_json);
    app.add_option("--collateral", collateral);
    app.add_option("--pccs-url", pccs_url);
    app.add_option("--collateral-cache-dir", collateral_cache_dir);
    app.add_option("--collateral-prefetch", prefetch);
    app.add_option("--collateral-refresh-interval", refresh_interval);
    app.add_option("--kds-url", kds_url);
    app.add_option("--kds-cache-dir", kds_cache_dir);
    app.add_option("--kds-crls", kds_crls)->delimiter(',');
    app.add_option("--kds-crl-refresh-interval", kds_crl_refresh_interval);
    auto* server = app.add_subcommand("server");
    server->add_option("target_addr", target);
    server->add_option("--listen-addr", listen)->envname("ATLS_TEST_LISTEN_ADDR");
    server->add_option("--server-attestation-type", type);
    auto* token_service = app.add_subcommand("token-service");
    token_service->add_option("--issuer", target);
    token_service->add_option("--token-ttl", listen);
    auto* get_token = app.add_subcommand("get-token");
    get_token->add_option("token_endpoint", target);
    auto* pg_server = app.add_subcommand("pg-server");
    pg_server->add_option("backend_addr", target);
    pg_server->add_option("--listen-addr", listen);
    for (const char* flag : {"--backend-sslmode", "--backend-ca", "--backend-cert", "--backend-key",
                             "--backend-server-name", "--backend-sslnegotiation"}) {
      pg_server->add_option(flag, backend_tls[flag]);
    }
  }
  CLI::App app;
  std::string measurements, target, listen, type;
  std::map<std::string, std::string> backend_tls;
  double age = 0;
  bool log_json = false;
  std::vector<std::string> collateral, prefetch, kds_crls;
  double kds_crl_refresh_interval = 0;
  std::string pccs_url, collateral_cache_dir, kds_url, kds_cache_dir;
  double refresh_interval = 0;
};

std::string render(const std::vector<CLI::ConfigItem>& items) {
  std::string out;
  for (const auto& item : items) {
    out += item.fullname() + "=" + CLI::detail::join(item.inputs, ",") + ";";
  }
  return out;
}

TEST(ConfigFile, SeedSchemaMapsOntoOptions) {
  TestApp t;
  YamlConfig reader(&t.app);
  const auto items = reader.translate(R"(
mode: server
proxy:
  listen: "0.0.0.0:26257"
  backend: {host: db.internal, port: 26257}
attestation:
  provider: gcp
  policy: {measurements_file: m.json}
policy: {max_attestation_age: 5m}
logging: {format: json}
)",
                                      "server");
  EXPECT_EQ(render(items),
            "server.listen-addr=0.0.0.0:26257;server.target_addr=db.internal:26257;"
            "measurements-file=m.json;server.server-attestation-type=auto;"
            "max-attestation-age=300;log-json=true;");
}

TEST(ConfigFile, SeedTokensMapOntoTheTokenCommands) {
  TestApp t;
  YamlConfig reader(&t.app);
  const std::string tokens =
      "tokens: {sts_url: 'https://sts.example.com/token', token_ttl: 1h, dpop_enabled: true}\n";
  EXPECT_EQ(render(reader.translate(tokens, "token-service")),
            "token-service.issuer=https://sts.example.com;token-service.token-ttl=3600;");
  // get-token calls the endpoint; the lifetime is the service's to choose.
  EXPECT_EQ(render(reader.translate("tokens: {sts_url: 'https://s/token'}\n", "get-token")),
            "get-token.token_endpoint=https://s/token;");
  EXPECT_THROW(reader.translate("tokens: {token_ttl: 1h}\n", "get-token"), CLI::ParseError);
  EXPECT_THROW(reader.translate("tokens: {dpop_enabled: false}\n", "token-service"),
               CLI::ParseError);
  EXPECT_THROW(reader.translate("tokens: {sts_url: 'https://s/issue'}\n", "token-service"),
               CLI::ParseError);
  EXPECT_THROW(reader.translate("tokens: {audience: x}\n", "token-service"), CLI::ParseError);
}

TEST(ConfigFile, BackendTlsMapsOntoPgServerFlags) {
  TestApp t;
  YamlConfig reader(&t.app);
  const auto items = reader.translate(R"(
mode: pg-server
proxy:
  listen: "0.0.0.0:26257"
  backend:
    host: cockroachdb.internal
    port: 26257
    tls: {enabled: true, ca_cert: /ca.crt, client_cert: /c.crt, client_key: /c.key,
          server_name: node1, negotiation: direct}
)",
                                      "pg-server");
  EXPECT_EQ(render(items),
            "pg-server.listen-addr=0.0.0.0:26257;pg-server.backend-sslmode=verify-full;"
            "pg-server.backend-ca=/ca.crt;pg-server.backend-cert=/c.crt;"
            "pg-server.backend-key=/c.key;pg-server.backend-server-name=node1;"
            "pg-server.backend-sslnegotiation=direct;"
            "pg-server.backend_addr=cockroachdb.internal:26257;");
  EXPECT_EQ(render(reader.translate("proxy: {backend: {host: db, tls: {enabled: false}}}\n",
                                    "pg-server")),
            "pg-server.backend-sslmode=disable;pg-server.backend_addr=db;");
}

TEST(ConfigFile, FullParseAppliesTheFile) {
  TestApp t;
  t.app.config_formatter(std::make_shared<YamlConfig>(&t.app));
  t.app.set_config("--config");
  const auto path = std::filesystem::temp_directory_path() / "atls-config-test.yaml";
  {
    std::ofstream out(path);
    out << "proxy: {listen: '127.0.0.1:1', backend: 'a:2'}\nmeasurements-file: m.json\n";
  }
  // CLI11 takes argv reversed: --config PATH server --listen-addr 127.0.0.1:9
  t.app.parse(std::vector<std::string>{"127.0.0.1:9", "--listen-addr", "server", path.string(),
                                       "--config"});
  EXPECT_EQ(t.listen, "127.0.0.1:9");  // the flag wins
  EXPECT_EQ(t.target, "a:2");
  EXPECT_EQ(t.measurements, "m.json");
  std::filesystem::remove(path);
}

TEST(ConfigFile, EnvironmentBeatsTheFile) {
  TestApp t;
  ::setenv("ATLS_TEST_LISTEN_ADDR", "127.0.0.1:7", 1);
  YamlConfig reader(&t.app);
  const auto items = reader.translate("proxy: {listen: '127.0.0.1:1'}\n", "server");
  ::unsetenv("ATLS_TEST_LISTEN_ADDR");
  EXPECT_TRUE(items.empty()) << render(items);
}

TEST(ConfigFile, ErrorsNameTheLine) {
  TestApp t;
  YamlConfig reader(&t.app);
  const std::pair<const char*, const char*> cases[] = {
      {"proxy:\n  listen: a\n  nope: b\n", "config line 3: unknown key 'proxy.nope'"},
      {"a: [1,\n", "config line 2"},
      {"- 1\n- 2\n", "top level must be a mapping"},
      {"proxy: 5\n", "proxy must be a mapping"},
      {"proxy: {listen: [a, b]}\n", "listen must be a single value"},
      {"mode: client\n", "mode is 'client' but the command is 'server'"},
      {"server: {bogus: 1}\n", "unknown option 'bogus' of 'server'"},
      {"policy: {require_fresh_attestation: maybe}\n", "must be true or false"},
      {"attestation: {provider: tpm9}\n", "unknown provider or type 'tpm9'"},
      {"proxy: {backend: {host: a, tls: {enabled: true}}}\n",
       "config line 1: proxy.backend.tls: TLS to the backend is configured in database mode"},
      {"attestation: {simulated: {directory: d}}\n",
       "attestation.simulated needs attestation.provider: simulated"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      reader.translate(text, "server");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const CLI::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << text << " -> " << e.what();
    }
  }
}

TEST(ConfigFile, CollateralServiceAndKdsSections) {
  TestApp t;
  YamlConfig reader(&t.app);
  const auto items = reader.translate(R"(
attestation:
  tdx_collateral:
    pccs_url: https://pccs.internal:8081/sgx/certification/v4/
    cache_dir: /var/cache/atls-proxy/collateral
    prefetch: [00a06e570000, "00806f050000:processor"]
    refresh_interval: 6h
    files: extra.json
  snp_certificates:
    kds_url: https://kds.internal
    cache_dir: /var/cache/atls-proxy/kds
    crls: [Milan, Turin]
    crl_refresh_interval: 12h
)",
                                      "server");
  EXPECT_EQ(render(items),
            "pccs-url=https://pccs.internal:8081/sgx/certification/v4/;"
            "collateral-cache-dir=/var/cache/atls-proxy/collateral;"
            "collateral-prefetch=00a06e570000,00806f050000:processor;"
            "collateral-refresh-interval=21600;collateral=extra.json;"
            "kds-url=https://kds.internal;kds-cache-dir=/var/cache/atls-proxy/kds;"
            "kds-crls=Milan,Turin;kds-crl-refresh-interval=43200;");

  // The flag form works too, and the items reach the options.
  t.app.config_formatter(std::make_shared<YamlConfig>(&t.app));
  t.app.set_config("--config");
  const auto path = std::filesystem::temp_directory_path() / "atls-config-collateral-test.yaml";
  {
    std::ofstream out(path);
    out << "collateral-cache-dir: /tmp/c\nkds-url: http://127.0.0.1:1\n"
           "attestation: {tdx_collateral: {prefetch: 00a06e570000, refresh_interval: 90s},\n"
           "              snp_certificates: {crls: all, crl_refresh_interval: 1h}}\n";
  }
  t.app.parse(std::vector<std::string>{"127.0.0.1:9", "server", path.string(), "--config"});
  EXPECT_EQ(t.collateral_cache_dir, "/tmp/c");
  EXPECT_EQ(t.kds_url, "http://127.0.0.1:1");
  EXPECT_EQ(t.prefetch, std::vector<std::string>{"00a06e570000"});
  EXPECT_EQ(t.refresh_interval, 90.0);
  EXPECT_EQ(t.kds_crls, std::vector<std::string>{"all"});
  EXPECT_EQ(t.kds_crl_refresh_interval, 3600.0);
  std::filesystem::remove(path);
}

TEST(ConfigFile, CollateralSectionErrors) {
  TestApp t;
  YamlConfig reader(&t.app);
  const std::pair<const char*, const char*> cases[] = {
      {"attestation: {tdx_collateral: {pcs: x}}\n", "unknown key 'attestation.tdx_collateral.pcs'"},
      {"attestation: {tdx_collateral: x}\n", "attestation.tdx_collateral must be a mapping"},
      {"attestation: {tdx_collateral: {refresh_interval: often}}\n", "is not a duration"},
      {"attestation: {snp_certificates: {url: x}}\n",
       "unknown key 'attestation.snp_certificates.url'"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      reader.translate(text, "server");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const CLI::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << text << " -> " << e.what();
    }
  }
}

TEST(ConfigFile, Durations) {
  EXPECT_EQ(parse_duration_seconds("60s"), 60.0);
  EXPECT_EQ(parse_duration_seconds("5m"), 300.0);
  EXPECT_EQ(parse_duration_seconds("1h"), 3600.0);
  EXPECT_EQ(parse_duration_seconds("250ms"), 0.25);
  EXPECT_EQ(parse_duration_seconds("7"), 7.0);
  EXPECT_FALSE(parse_duration_seconds("soon"));
  EXPECT_FALSE(parse_duration_seconds("-1s"));
  EXPECT_FALSE(parse_duration_seconds("5 days"));
  EXPECT_FALSE(parse_duration_seconds("nan"));
  EXPECT_FALSE(parse_duration_seconds(""));
}

}  // namespace
}  // namespace atls::cli
