// Report input data (interop spec §3): the public-key hash and the TLS exporter, each checked
// against an independent computation (spec vectors, the openssl command line, s_client).
#include "ratls/report_data.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <regex>
#include <thread>

#include "core/bytes.h"
#include "ratls/alpn.h"
#include "support/process.h"
#include "support/test_pki.h"
#include "support/testdata.h"
#include "tls/context.h"
#include "tls/credentials.h"

namespace atls::ratls {
namespace {

namespace asio = boost::asio;
using testing::run_command;

tls::X509Ptr der_certificate(const Bytes& der) {
  const unsigned char* p = der.data();
  return tls::X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

TEST(PublicKeyHash, MatchesSpecVectors) {
  ATLS_REQUIRE_TESTDATA();
  // §3.1: EC P-256 mock root -> hash of the 65-byte point, not of the SPKI.
  auto mock_root = der_certificate(
      testing::read_bytes(testing::testdata_path("flashbots/mock-tdx-assets/mock-root-ca.der")));
  ASSERT_TRUE(mock_root);
  EXPECT_EQ(to_hex(public_key_hash(mock_root.get())),
            "2bad0fd610d99eae443e932a26142bca1e5fa995b4518452827e78ef1f317ff0");
  // RSA-4096: hash of the 526-byte DER RSAPublicKey.
  auto microsoft = tls::load_certificates(testing::testdata_path(
      "flashbots/attestation-assets/microsoft-rsa-devices-root-ca-2021.pem"));
  ASSERT_TRUE(microsoft);
  EXPECT_EQ(to_hex(public_key_hash(microsoft->front().get())),
            "ac247f2c987e39d1ab1d7a0b47c07a15abff75fba6a1ac58be5b41560a822276");
}

TEST(PublicKeyHash, ZerosWithoutCertificate) {
  EXPECT_EQ(public_key_hash(nullptr), Digest32{});
}

// The hash of the subjectPublicKey BIT STRING contents, computed by openssl asn1parse + sha256.
std::string openssl_key_hash(const testing::TempDir& dir, const std::string& cert) {
  const std::string spki = dir.path() + "/spki.der";
  EXPECT_EQ(run_command("openssl x509 -in " + cert +
                        " -pubkey -noout | openssl pkey -pubin "
                        "-outform DER -out " +
                        spki)
                .exit_code,
            0);
  // The BIT STRING is the SPKI's last element: its contents minus the unused-bits octet are the
  // last (length - 1) bytes of the file.
  const auto parsed = run_command("openssl asn1parse -inform DER -in " + spki);
  std::smatch match;
  const std::regex bit_string(R"(hl=\s*(\d+)\s+l=\s*(\d+)\s+prim:\s+BIT STRING)");
  EXPECT_TRUE(std::regex_search(parsed.output, match, bit_string)) << parsed.output;
  const long content = std::stol(match[2]) - 1;
  const auto hash =
      run_command("tail -c " + std::to_string(content) + " " + spki + " | openssl dgst -sha256 -r");
  return hash.output.substr(0, 64);
}

TEST(PublicKeyHash, MatchesOpensslForEcAndRsaKeys) {
  testing::TempDir dir;
  for (const auto algorithm :
       {tls::KeyAlgorithm::EcP256, tls::KeyAlgorithm::EcP384, tls::KeyAlgorithm::Rsa2048}) {
    auto ca = testing::make_test_ca("Key Hash CA", algorithm);
    const std::string pem = dir.write("cert.pem", tls::to_pem(ca.cert.get()));
    EXPECT_EQ(to_hex(public_key_hash(ca.cert.get())), openssl_key_hash(dir, pem));
  }
}

TEST(ReportData, LayoutIsKeyHashThenExporter) {
  Digest32 key{};
  Digest32 exporter{};
  key.fill(0xaa);
  exporter.fill(0x55);
  const auto report = make_report_data(key, exporter);
  EXPECT_TRUE(std::all_of(report.begin(), report.begin() + 32, [](auto b) { return b == 0xaa; }));
  EXPECT_TRUE(std::all_of(report.begin() + 32, report.end(), [](auto b) { return b == 0x55; }));
}

TEST(ChannelBinding, ExporterMatchesOpensslSClient) {
  // Our TLS 1.3 server computes the exporter; `openssl s_client -keymatexport` computes it on
  // the other end of the same session (RFC 8446 §7.5, no context).
  auto ca = testing::make_test_ca("Exporter CA");
  auto leaf = testing::make_leaf(ca, "server", {"localhost"}, {"127.0.0.1"});
  tls::ServerContextOptions options;
  options.credentials = &leaf;
  options.alpn_preference = ratls_alpn_list({});
  auto context = tls::make_server_context(options);
  ASSERT_TRUE(context) << context.error().describe();

  asio::io_context io(1);
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  std::optional<Result<Digest32>> server_exporter;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        asio::ssl::stream<boost::beast::tcp_stream> stream(
            boost::beast::tcp_stream(std::move(socket)), **context);
        auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                              asio::as_tuple(asio::use_awaitable));
        if (!handshake_ec) {
          server_exporter = export_channel_binding(stream.native_handle());
        }
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
      },
      asio::detached);
  testing::CommandResult client;
  std::thread client_thread([&] {
    client = run_command("openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                         " -tls1_3 -alpn flashbots-ratls/1 -keymatexport EXPORTER-Channel-Binding"
                         " -keymatexportlen 32 </dev/null 2>&1");
  });
  io.run_for(std::chrono::seconds(20));
  client_thread.join();

  ASSERT_TRUE(server_exporter.has_value()) << client.output;
  ASSERT_TRUE(*server_exporter);
  std::smatch match;
  const std::regex material(R"(Keying material:\s*([0-9A-Fa-f]{64}))");
  ASSERT_TRUE(std::regex_search(client.output, match, material)) << client.output;
  std::string expected = match[1];
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(to_hex(**server_exporter), expected);
}

}  // namespace
}  // namespace atls::ratls
