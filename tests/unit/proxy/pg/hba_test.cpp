// The proxy's host-based rules and IP allowlist (standards.md §5.7, docs/database.md): parsing
// (valid forms, every malformed form with its named code and line) and first-match evaluation.
#include "proxy/pg/hba.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "proxy/pg/errors.h"
#include "proxy/pg/tunnel.h"

namespace atls::proxy::pg {
namespace {

namespace ip = boost::asio::ip;

HbaRules rules(std::string_view text) {
  auto parsed = HbaRules::parse(text);
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().describe());
  return parsed ? std::move(*parsed) : HbaRules{};
}

HbaRequest request(std::string_view address, std::string database, std::string user) {
  HbaRequest r;
  r.address = ip::make_address(std::string(address));
  r.database = std::move(database);
  r.user = std::move(user);
  return r;
}

ErrorCode parse_failure(std::string_view text, std::string_view detail_contains = {}) {
  auto parsed = HbaRules::parse(text);
  EXPECT_FALSE(parsed) << text;
  if (parsed) {
    return {};
  }
  if (!detail_contains.empty()) {
    EXPECT_NE(parsed.error().detail.find(detail_contains), std::string::npos)
        << parsed.error().detail;
  }
  return parsed.error().code;
}

TEST(PgHba, FirstMatchDecidesWithoutFallThrough) {
  const HbaRules r = rules(
      "# comment\n"
      "\n"
      "host  shop   alice   10.0.0.0/8     trust   # inline comment\n"
      "host  all    mallory all            reject\n"
      "host  all    all     192.168.1.0 255.255.255.0  trust\n"
      "host  all    all     ::1/128        trust\n");
  EXPECT_EQ(r.size(), 4U);
  auto d = r.evaluate(request("10.1.2.3", "shop", "alice"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.line, 3U);
  d = r.evaluate(request("10.1.2.3", "other", "alice"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, make_error_code(Errc::HbaNoMatch));
  EXPECT_EQ(d.line, 0U);
  d = r.evaluate(request("192.168.1.7", "x", "mallory"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, make_error_code(Errc::HbaRejected));
  EXPECT_EQ(d.line, 4U);
  d = r.evaluate(request("192.168.1.7", "x", "bob"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.line, 5U);
  EXPECT_FALSE(r.evaluate(request("192.168.2.7", "x", "bob")).allowed);
  EXPECT_TRUE(r.evaluate(request("::1", "x", "bob")).allowed);
}

TEST(PgHba, Ipv4MappedAddressesMatchIpv4Rules) {
  const HbaRules r = rules("host all all 127.0.0.0/8 trust\n");
  EXPECT_TRUE(r.evaluate(request("::ffff:127.0.0.1", "d", "u")).allowed);
  EXPECT_FALSE(r.evaluate(request("::1", "d", "u")).allowed);
}

TEST(PgHba, ListsKeywordsAndQuoting) {
  const HbaRules r = rules(
      "host \"all\" u all trust\n"  // a database literally named all
      "host a,b,sameuser x,y,\"z w\" all trust\n"
      "host replication repl all trust\n");
  EXPECT_TRUE(r.evaluate(request("1.2.3.4", "all", "u")).allowed);
  EXPECT_FALSE(r.evaluate(request("1.2.3.4", "other", "u")).allowed);
  EXPECT_TRUE(r.evaluate(request("1.2.3.4", "b", "x")).allowed);
  EXPECT_TRUE(r.evaluate(request("1.2.3.4", "y", "y")).allowed);  // sameuser
  EXPECT_TRUE(r.evaluate(request("1.2.3.4", "a", "z w")).allowed);
  EXPECT_FALSE(r.evaluate(request("1.2.3.4", "c", "x")).allowed);
  // `replication` matches only physical replication connections, and `all` does not.
  auto repl = request("1.2.3.4", "repl", "repl");
  EXPECT_FALSE(r.evaluate(repl).allowed);  // a database named repl is no replication
  repl.physical_replication = true;
  repl.database = "replication";
  EXPECT_TRUE(r.evaluate(repl).allowed);
  auto repl_u = request("1.2.3.4", "x", "u");
  repl_u.physical_replication = true;
  EXPECT_FALSE(r.evaluate(repl_u).allowed);  // line 1 is "all" (quoted) and `all` skips it
}

TEST(PgHba, SslTypesAndAttestedMethod) {
  const HbaRules r = rules(
      "hostnossl all all all reject\n"
      "hostssl   all admin all attested\n"
      "hostssl   all all   all trust\n");
  auto plain = request("1.2.3.4", "d", "u");
  plain.tls = false;
  EXPECT_EQ(r.evaluate(plain).reason, make_error_code(Errc::HbaRejected));
  auto admin = request("1.2.3.4", "d", "admin");
  EXPECT_EQ(r.evaluate(admin).reason, make_error_code(Errc::HbaNotAttested));
  EXPECT_EQ(r.evaluate(admin).line, 2U);
  admin.attested = true;
  EXPECT_TRUE(r.evaluate(admin).allowed);
  EXPECT_TRUE(r.evaluate(request("1.2.3.4", "d", "u")).allowed);
}

TEST(PgHba, EmptyRulesRejectEverything) {
  const HbaRules r = rules("# nothing\n\n   \n");
  EXPECT_EQ(r.size(), 0U);
  EXPECT_EQ(r.evaluate(request("127.0.0.1", "d", "u")).reason, make_error_code(Errc::HbaNoMatch));
}

TEST(PgHba, CrLfLines) {
  const HbaRules r = rules("host all all all trust\r\nhost all all all reject\r\n");
  EXPECT_EQ(r.size(), 2U);
}

TEST(PgHba, SyntaxErrorsNameTheLine) {
  const auto syntax = make_error_code(Errc::HbaSyntax);
  EXPECT_EQ(parse_failure("host all all all trust\nhost all all\n", "line 2"), syntax);
  EXPECT_EQ(parse_failure("hots all all all trust\n", "unknown connection type"), syntax);
  EXPECT_EQ(parse_failure("host \"all all all trust\n", "line 1"), syntax);
  EXPECT_EQ(parse_failure("host a,,b all all trust\n"), syntax);
  EXPECT_EQ(parse_failure("host a, all all trust\n"), syntax);
  EXPECT_EQ(parse_failure("host ,a all all trust\n"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.1/33 trust\n", "CIDR"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.1/8 trust\n", "CIDR"), syntax);  // host bits
  EXPECT_EQ(parse_failure("host all all 10.0.0.0/ trust\n"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0/x trust\n"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0 trust\n", "mask"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0 255.0.255.0 trust\n", "contiguous"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.1 255.0.0.0 trust\n", "outside mask"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0 ffff:: trust\n"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0 255.0.0.0\n", "mask column"), syntax);
  EXPECT_EQ(parse_failure("host all all 10.0.0.0 255.0.0.0 # no method\n"), syntax);
  EXPECT_EQ(parse_failure("host all all all\n"), syntax);
  EXPECT_EQ(parse_failure("host all all all trust,reject\n", "single keyword"), syntax);
  EXPECT_EQ(parse_failure("\"host\" all all all trust\n"), syntax);
  EXPECT_EQ(parse_failure("host \"\" all all trust\n", "empty database"), syntax);
  EXPECT_EQ(parse_failure("host all \"\" all trust\n", "empty user"), syntax);
  EXPECT_EQ(parse_failure("host all all 1.2.3.4/32,5.6.7.8/32 trust\n"), syntax);
}

TEST(PgHba, UnsupportedFeaturesAreRefusedNotIgnored) {
  const auto unsupported = make_error_code(Errc::HbaUnsupported);
  EXPECT_EQ(parse_failure("local all all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("hostgssenc all all all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("include other.conf\n"), unsupported);
  EXPECT_EQ(parse_failure("host @dbs all all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host /^db all all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host samerole all all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host all +admins all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host all @users all trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host all all samenet trust\n"), unsupported);
  EXPECT_EQ(parse_failure("host all all db.example.com trust\n", "host names"), unsupported);
  // Authentication methods are the backend's job; a silent "trust" would be a hole.
  EXPECT_EQ(parse_failure("host all all all scram-sha-256\n", "trust, attested or reject"),
            unsupported);
  EXPECT_EQ(parse_failure("host all all all md5\n"), unsupported);
  EXPECT_EQ(parse_failure("host all all all trust clientcert=verify-full\n"), unsupported);
}

TEST(PgHba, AnyErrorRejectsTheWholeFile) {
  // A valid line before a broken one does not produce partial rules.
  EXPECT_FALSE(HbaRules::parse("host all all all trust\nhost all all all md5\n"));
}

TEST(PgHba, EveryPrefixOfAValidFileIsHandled) {
  const std::string text =
      "host shop,\"x y\" alice 10.0.0.0 255.0.0.0 trust # c\n"
      "hostssl all all ::/0 attested\n";
  for (std::size_t n = 0; n <= text.size(); ++n) {
    auto parsed = HbaRules::parse(std::string_view(text).substr(0, n));
    if (!parsed) {
      const auto code = parsed.error().code;
      EXPECT_TRUE(code == make_error_code(Errc::HbaSyntax) ||
                  code == make_error_code(Errc::HbaUnsupported))
          << n << ": " << parsed.error().describe();
    }
  }
}

TEST(PgCidr, ParsingAndMatching) {
  auto v4 = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->contains(ip::make_address("10.255.0.1")));
  EXPECT_FALSE(v4->contains(ip::make_address("11.0.0.1")));
  EXPECT_FALSE(v4->contains(ip::make_address("::a00:1")));
  EXPECT_EQ(v4->to_string(), "10.0.0.0/8");
  auto host = parse_cidr("127.0.0.1");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 32U);
  auto v6 = parse_cidr("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(ip::make_address("2001:db8:1::5")));
  EXPECT_FALSE(v6->contains(ip::make_address("2001:db9::5")));
  auto everything = parse_cidr("0.0.0.0/0");
  ASSERT_TRUE(everything);
  EXPECT_TRUE(everything->contains(ip::make_address("203.0.113.9")));
  EXPECT_TRUE(everything->contains(ip::make_address("::ffff:203.0.113.9")));
  auto odd = parse_cidr("10.0.0.128/25");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(ip::make_address("10.0.0.200")));
  EXPECT_FALSE(odd->contains(ip::make_address("10.0.0.127")));
  // A mapped network normalises to IPv4.
  auto mapped = parse_cidr("::ffff:10.0.0.1");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->network.is_v4());

  for (const char* bad : {"", "/", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/24",
                          "10.0.0.0/-1", "10.0.0.0/8/8", "host", "10.0.0.0/ 8", "1.2.3.4.5"}) {
    EXPECT_EQ(parse_cidr(bad).error(), make_error_code(Errc::AllowlistSyntax)) << bad;
  }
}

TEST(PgAllowlist, ParseAndAllow) {
  auto list = IpAllowlist::parse({"127.0.0.1", "10.0.0.0/8", "::1"});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3U);
  EXPECT_TRUE(list->allows(ip::make_address("127.0.0.1")));
  EXPECT_TRUE(list->allows(ip::make_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(list->allows(ip::make_address("127.0.0.2")));
  EXPECT_TRUE(list->allows(ip::make_address("10.9.9.9")));
  EXPECT_TRUE(list->allows(ip::make_address("::1")));
  auto bad = IpAllowlist::parse({"127.0.0.1", "nope"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, make_error_code(Errc::AllowlistSyntax));
  EXPECT_NE(bad.error().detail.find("nope"), std::string::npos);
  auto empty = IpAllowlist::parse({});
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->allows(ip::make_address("127.0.0.1")));
}

TEST(PgTunnel, RequestCarriesTheSourceAddress) {
  const ip::tcp::endpoint v4(ip::make_address("192.0.2.7"), 50123);
  const auto request = make_tunnel_request(v4);
  EXPECT_TRUE(is_tunnel_request(request));
  EXPECT_EQ(request.authority, kTunnelAuthority);
  auto source = tunnel_source(request);
  ASSERT_TRUE(source);
  EXPECT_EQ(*source, v4);
  const ip::tcp::endpoint v6(ip::make_address("2001:db8::1"), 5);
  auto source6 = tunnel_source(make_tunnel_request(v6));
  ASSERT_TRUE(source6);
  EXPECT_EQ(*source6, v6);
}

TEST(PgTunnel, MalformedOrAmbiguousSourcesAreRefused) {
  auto request = make_tunnel_request(ip::tcp::endpoint(ip::make_address("192.0.2.7"), 1));
  auto twice = request;
  twice.headers.add(kSourceAddressField, "192.0.2.8:1");
  EXPECT_FALSE(tunnel_source(twice));
  for (const char* bad : {"", "192.0.2.7", "192.0.2.7:", "192.0.2.7:99999", "host:1", "[::1]",
                          "::1:5", "192.0.2.7:1 ", "1.2.3.4:-1"}) {
    http::RequestHead r = make_tunnel_request(ip::tcp::endpoint(ip::make_address("1.1.1.1"), 1));
    r.headers = http::Fields{};
    r.headers.add(kSourceAddressField, bad);
    EXPECT_FALSE(tunnel_source(r)) << bad;
  }
  http::RequestHead none = request;
  none.headers = http::Fields{};
  EXPECT_FALSE(tunnel_source(none));
  // Another authority, or not CONNECT, is no database tunnel.
  auto other = request;
  other.authority = "db.internal:5432";
  EXPECT_FALSE(is_tunnel_request(other));
  auto get = request;
  get.method = "GET";
  EXPECT_FALSE(is_tunnel_request(get));
}

}  // namespace
}  // namespace atls::proxy::pg
