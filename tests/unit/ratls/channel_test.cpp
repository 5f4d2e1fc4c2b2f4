// The attested channel end to end on loopback sockets (interop spec §1–§3, §5.1): real TLS 1.3,
// real exporter, both sides of the exchange, with test attesters/verifiers standing in for TEEs.
#include "ratls/channel.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "attest/none/none_attester.h"
#include "ratls/errors.h"
#include "ratls/report_data.h"
#include "support/fake_attestation.h"
#include "support/test_pki.h"
#include "tls/context.h"

namespace atls::ratls {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using attest::AttestationType;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::shared_ptr<const Appraiser> appraiser_for(std::string_view allowed,
                                               std::vector<attest::VerifierPtr> verifiers = {}) {
  auto policy = policy::MeasurementPolicy::from_allowed_type(allowed).value();
  return std::make_shared<Appraiser>(
      std::make_shared<const policy::MeasurementPolicy>(std::move(policy)), std::move(verifiers));
}

std::shared_ptr<const Appraiser> appraiser_from_json(std::string_view json,
                                                     std::vector<attest::VerifierPtr> verifiers) {
  auto policy = policy::MeasurementPolicy::parse(json, "inline").value();
  return std::make_shared<Appraiser>(
      std::make_shared<const policy::MeasurementPolicy>(std::move(policy)), std::move(verifiers));
}

struct Side {
  tls::SharedSslContext context;
  ChannelConfig config;
};

struct PairResult {
  std::optional<Outcome<ChannelInfo>> server;
  std::optional<Outcome<ChannelInfo>> client;
  std::string server_received;  // application bytes after the exchange
  std::string client_received;
  Digest32 server_exporter{};
  Digest32 client_exporter{};
};

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest()
      : ca_(testing::make_test_ca("Channel Test CA")),
        server_credentials_(testing::make_leaf(ca_, "server", {"localhost"}, {"127.0.0.1"})),
        client_credentials_(testing::make_leaf(ca_, "client", {"client"}, {})) {}

  ChannelConfig config(attest::AttesterPtr attester, std::shared_ptr<const Appraiser> appraiser,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    ChannelConfig c;
    c.attester = std::move(attester);
    c.appraiser = std::move(appraiser);
    c.attestation_executor = pool_.get_executor();
    c.step_timeout = timeout;
    c.clock = std::make_shared<SystemClock>();
    return c;
  }

  tls::SharedSslContext server_context(bool client_auth = false,
                                       std::vector<std::string> alpn = {}) {
    tls::ServerContextOptions options;
    options.credentials = &server_credentials_;
    options.alpn_preference = alpn.empty() ? ratls_alpn_list(with_http_protocols({})) : alpn;
    options.require_client_certificate = client_auth;
    options.client_trust_anchors = testing::anchors(ca_);
    return tls::make_server_context(options).value();
  }

  tls::SharedSslContext client_context(bool with_certificate = false,
                                       std::vector<std::string> alpn = {}) {
    tls::ClientContextOptions options;
    options.alpn = alpn.empty() ? ratls_alpn_list(with_http_protocols({})) : alpn;
    options.extra_trust_anchors = testing::anchors(ca_);
    options.client_credentials = with_certificate ? &client_credentials_ : nullptr;
    return tls::make_client_context(options).value();
  }

  // Runs both sides on one loopback connection. After a successful exchange the client sends
  // "ping" and the server answers "pong", proving the stream continues cleanly.
  PairResult run_pair(Side server, Side client, std::string server_name = "localhost") {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    PairResult result;

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
          TlsStream stream(boost::beast::tcp_stream(std::move(socket)), *server.context);
          result.server = co_await accept_channel(stream, server.config);
          if (*result.server) {
            result.server_exporter = export_channel_binding(stream.native_handle()).value();
            std::string buffer(4, '\0');
            auto [read_ec, n] = co_await asio::async_read(stream, asio::buffer(buffer), kUseTuple);
            result.server_received = buffer.substr(0, n);
            co_await asio::async_write(stream, asio::buffer(std::string("pong")), kUseTuple);
          }
          boost::beast::get_lowest_layer(stream).close();
        },
        asio::detached);

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          boost::beast::tcp_stream tcp_stream(io);
          co_await tcp_stream.async_connect(
              tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kUseTuple);
          TlsStream stream(std::move(tcp_stream), *client.context);
          result.client = co_await open_channel(stream, server_name, client.config);
          if (*result.client) {
            result.client_exporter = export_channel_binding(stream.native_handle()).value();
            co_await asio::async_write(stream, asio::buffer(std::string("ping")), kUseTuple);
            std::string buffer(4, '\0');
            auto [read_ec, n] = co_await asio::async_read(stream, asio::buffer(buffer), kUseTuple);
            result.client_received = buffer.substr(0, n);
          }
          boost::beast::get_lowest_layer(stream).close();
        },
        asio::detached);
    io.run();
    return result;
  }

  attest::AttesterPtr none() { return std::make_shared<attest::NoneAttester>(); }

  asio::thread_pool pool_{2};
  testing::TestCa ca_;
  tls::Credentials server_credentials_;
  tls::Credentials client_credentials_;
};

TEST_F(ChannelTest, NoneOnBothSidesNegotiatesH2AndCarriesApplicationData) {
  auto result = run_pair({server_context(), config(none(), appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("none"))});
  ASSERT_TRUE(*result.server) << result.server->error().describe();
  ASSERT_TRUE(*result.client) << result.client->error().describe();
  EXPECT_EQ((*result.client)->alpn, "flashbots-ratls/1+h2");
  EXPECT_EQ((*result.client)->http_version, HttpVersion::Http2);
  EXPECT_EQ((*result.server)->alpn, "flashbots-ratls/1+h2");
  EXPECT_FALSE((*result.client)->peer.attested());
  EXPECT_EQ((*result.client)->peer.reported_type(), AttestationType::None);
  EXPECT_EQ(result.server_received, "ping");
  EXPECT_EQ(result.client_received, "pong");
  EXPECT_EQ(result.server_exporter, result.client_exporter);
}

TEST_F(ChannelTest, ServerEvidenceBindsServerKeyAndExporter) {
  auto attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair({server_context(), config(attester, appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("dcap-tdx", {verifier}))});
  ASSERT_TRUE(*result.client) << result.client->error().describe();
  ASSERT_TRUE(*result.server) << result.server->error().describe();
  const auto& peer = (*result.client)->peer;
  ASSERT_TRUE(peer.attested());
  EXPECT_EQ(peer.reported_type(), AttestationType::DcapTdx);
  EXPECT_EQ(peer.claims->measurements.at(0), Bytes(48, 0x11));
  EXPECT_EQ(peer.matched_record, "record 1");

  // Independent recomputation of §3.1 from the server's certificate and the exporter.
  const auto report = attester->last_report_data();
  const auto key_hash = public_key_hash(server_credentials_.chain.front().get());
  EXPECT_TRUE(std::equal(key_hash.begin(), key_hash.end(), report.begin()));
  EXPECT_TRUE(std::equal(result.client_exporter.begin(), result.client_exporter.end(),
                         report.begin() + 32));
  EXPECT_NE(key_hash, Digest32{});
}

TEST_F(ChannelTest, MutualAttestationWithClientCertificate) {
  auto server_attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto client_attester = std::make_shared<testing::EchoAttester>(AttestationType::QemuTdx);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair({server_context(/*client_auth=*/true),
                          config(server_attester, appraiser_for("dcap-tdx", {verifier}))},
                         {client_context(/*with_certificate=*/true),
                          config(client_attester, appraiser_for("dcap-tdx", {verifier}))});
  ASSERT_TRUE(*result.server) << result.server->error().describe();
  ASSERT_TRUE(*result.client) << result.client->error().describe();
  EXPECT_EQ((*result.server)->peer.reported_type(), AttestationType::QemuTdx);
  EXPECT_EQ((*result.client)->peer.reported_type(), AttestationType::DcapTdx);
  const auto report = client_attester->last_report_data();
  const auto key_hash = public_key_hash(client_credentials_.chain.front().get());
  EXPECT_TRUE(std::equal(key_hash.begin(), key_hash.end(), report.begin()));
  EXPECT_EQ(result.server_received, "ping");
}

TEST_F(ChannelTest, ClientAttestationWithoutClientAuthBindsZeros) {
  // The client has a certificate configured, but the server never asks for it: the client must
  // hash "no certificate" (§3.2). flashbots hashes its own key here and is rejected.
  auto client_attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair(
      {server_context(/*client_auth=*/false),
       config(none(), appraiser_for("dcap-tdx", {verifier}))},
      {client_context(/*with_certificate=*/true), config(client_attester, appraiser_for("none"))});
  ASSERT_TRUE(*result.server) << result.server->error().describe();
  EXPECT_TRUE((*result.server)->peer.attested());
  const auto report = client_attester->last_report_data();
  EXPECT_TRUE(std::all_of(report.begin(), report.begin() + 32, [](auto b) { return b == 0; }));
}

TEST_F(ChannelTest, ClientRefusesUnattestedServerWhenPolicyRequiresAttestation) {
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair({server_context(), config(none(), appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("dcap-tdx", {verifier}))});
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(result.client->error().code, make_error_code(Errc::AttestationTypeNotAccepted));
  // The client never sends its frame; the server sees the connection close.
  ASSERT_FALSE(*result.server);
  EXPECT_EQ(result.server->error().code, make_error_code(Errc::PeerClosed));
}

TEST_F(ChannelTest, ServerRequiringClientAttestationRejectsNone) {
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair({server_context(), config(none(), appraiser_for("dcap-tdx", {verifier}))},
                         {client_context(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.server);
  EXPECT_EQ(error_id(result.server->error().code), "ratls.attestation_type_not_accepted");
  EXPECT_EQ(verifier->calls(), 0);
}

TEST_F(ChannelTest, MeasurementMismatchListsRegisters) {
  auto attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  const std::string policy = R"([{"measurement_id":"prod","attestation_type":"dcap-tdx",
      "measurements":{"rtmr1":{"expected":")" +
                             std::string(96, '0') + R"("}}}])";
  auto result =
      run_pair({server_context(), config(attester, appraiser_for("none"))},
               {client_context(), config(none(), appraiser_from_json(policy, {verifier}))});
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(result.client->error().code, make_error_code(Errc::MeasurementsNotAccepted));
  EXPECT_NE(result.client->error().detail.find("record 1 (\"prod\"): rtmr1 is 1111"),
            std::string::npos)
      << result.client->error().detail;
}

TEST_F(ChannelTest, VerifierErrorKeepsItsNamedCode) {
  auto attester = std::make_shared<testing::EchoAttester>(
      AttestationType::GcpTdx, 0, testing::EchoAttester::Mode::WrongBinding);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  auto result = run_pair({server_context(), config(attester, appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("gcp-tdx", {verifier}))});
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(error_id(result.client->error().code), "fake.report_data_mismatch");
  EXPECT_NE(result.client->error().detail.find("gcp-tdx evidence rejected by the echo verifier"),
            std::string::npos);
}

TEST_F(ChannelTest, AttesterFailureKeepsItsNamedCode) {
  auto failing = std::make_shared<testing::EchoAttester>(AttestationType::GcpTdx, 0,
                                                         testing::EchoAttester::Mode::Fail);
  auto result = run_pair({server_context(), config(failing, appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.server);
  EXPECT_EQ(error_id(result.server->error().code), "fake.generation_failed");
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(result.client->error().code, make_error_code(Errc::PeerClosed));
}

TEST_F(ChannelTest, OversizedLocalEvidenceIsNotSent) {
  auto attester =
      std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx, kMaxFrameLength);
  auto result = run_pair({server_context(), config(attester, appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.server);
  EXPECT_EQ(result.server->error().code, make_error_code(Errc::FrameTooLarge));
}

TEST_F(ChannelTest, PolicyAcceptingNoneTreatsUnmatchedAttestationAsUnattested) {
  auto attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto verifier = std::make_shared<testing::EchoVerifier>();
  const std::string policy = R"([{"attestation_type":"none"},{"attestation_type":"dcap-tdx",
      "measurements":{"0":{"expected":")" +
                             std::string(96, '0') + R"("}}}])";
  auto result =
      run_pair({server_context(), config(attester, appraiser_for("none"))},
               {client_context(), config(none(), appraiser_from_json(policy, {verifier}))});
  ASSERT_TRUE(*result.client) << result.client->error().describe();
  EXPECT_FALSE((*result.client)->peer.attested());
  EXPECT_EQ((*result.client)->peer.claimed_type, AttestationType::DcapTdx);
  EXPECT_EQ((*result.client)->peer.reported_type(), AttestationType::None);
  EXPECT_NE((*result.client)->peer.downgrade_reason.find("measurements not accepted"),
            std::string::npos);
  EXPECT_EQ(verifier->calls(), 1);
}

TEST_F(ChannelTest, VerificationTimeoutIsNamed) {
  auto attester = std::make_shared<testing::EchoAttester>(AttestationType::DcapTdx);
  auto slow = std::make_shared<testing::EchoVerifier>(std::chrono::milliseconds(1500));
  auto result = run_pair({server_context(), config(attester, appraiser_for("none"))},
                         {client_context(), config(none(), appraiser_for("dcap-tdx", {slow}),
                                                   std::chrono::milliseconds(300))});
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(result.client->error().code, make_error_code(Errc::AttestationTimeout));
}

TEST_F(ChannelTest, WrongCaIsRefused) {
  const auto other_ca = testing::make_test_ca("Other CA");
  tls::ClientContextOptions options;
  options.alpn = ratls_alpn_list(with_http_protocols({}));
  options.extra_trust_anchors = testing::anchors(other_ca);
  auto result =
      run_pair({server_context(), config(none(), appraiser_for("none"))},
               {tls::make_client_context(options).value(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.client);
  EXPECT_NE(result.client->error().detail.find("unable to get local issuer certificate"),
            std::string::npos)
      << result.client->error().describe();
  ASSERT_FALSE(*result.server);
}

TEST_F(ChannelTest, HostnameIsVerified) {
  auto result =
      run_pair({server_context(), config(none(), appraiser_for("none"))},
               {client_context(), config(none(), appraiser_for("none"))}, "other.example");
  ASSERT_FALSE(*result.client);
  EXPECT_NE(result.client->error().detail.find("hostname mismatch"), std::string::npos)
      << result.client->error().describe();
  // IP literal checked against the IP SAN.
  auto by_ip = run_pair({server_context(), config(none(), appraiser_for("none"))},
                        {client_context(), config(none(), appraiser_for("none"))}, "127.0.0.1");
  EXPECT_TRUE(*by_ip.client) << by_ip.client->error().describe();
}

TEST_F(ChannelTest, SelfSignedModeAcceptsOnlyGenuinelySelfSignedLeaves) {
  tls::ClientContextOptions options;
  options.alpn = ratls_alpn_list({});
  options.allow_self_signed = true;
  auto self_signed =
      tls::make_self_signed_credentials("127.0.0.1", std::chrono::system_clock::now()).value();
  tls::ServerContextOptions server_options;
  server_options.credentials = &self_signed;
  server_options.alpn_preference = ratls_alpn_list(with_http_protocols({}));
  auto ok = run_pair(
      {tls::make_server_context(server_options).value(), config(none(), appraiser_for("none"))},
      {tls::make_client_context(options).value(), config(none(), appraiser_for("none"))},
      "some-unrelated-name");
  ASSERT_TRUE(*ok.client) << ok.client->error().describe();
  EXPECT_EQ((*ok.client)->alpn, "flashbots-ratls/1");
  EXPECT_EQ((*ok.client)->http_version, HttpVersion::Http1);

  // A CA-issued leaf is not self-signed: refused (flashbots' BadSignature).
  auto refused =
      run_pair({server_context(), config(none(), appraiser_for("none"))},
               {tls::make_client_context(options).value(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*refused.client);
}

TEST_F(ChannelTest, ClientWithoutRatlsAlpnIsRefused) {
  // Offering only plain HTTP protocols: the server aborts with no_application_protocol.
  auto result =
      run_pair({server_context(), config(none(), appraiser_for("none"))},
               {client_context(false, {"h2", "http/1.1"}), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.client);
  ASSERT_FALSE(*result.server);
  EXPECT_NE(result.client->error().detail.find("no application protocol"), std::string::npos)
      << result.client->error().describe();
}

TEST_F(ChannelTest, ClientOfferingNoAlpnIsRefusedAfterHandshake) {
  tls::ClientContextOptions options;  // no ALPN at all
  options.extra_trust_anchors = testing::anchors(ca_);
  auto result =
      run_pair({server_context(), config(none(), appraiser_for("none"))},
               {tls::make_client_context(options).value(), config(none(), appraiser_for("none"))});
  ASSERT_FALSE(*result.server);
  EXPECT_EQ(result.server->error().code, make_error_code(Errc::AlpnMissing));
  ASSERT_FALSE(*result.client);
  EXPECT_EQ(result.client->error().code, make_error_code(Errc::AlpnMissing));
}

// A raw peer that completes TLS and then misbehaves at the frame level.
class MisbehavingPeerTest : public ChannelTest {
 protected:
  Outcome<ChannelInfo> server_against(std::string client_bytes, std::chrono::milliseconds timeout) {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    std::optional<Outcome<ChannelInfo>> server_result;
    auto server_config = config(none(), appraiser_for("none"), timeout);
    auto server_ctx = server_context();
    // The raw client lingers until the server has given up on it.
    asio::steady_timer linger(io, std::chrono::seconds(10));
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
          TlsStream stream(boost::beast::tcp_stream(std::move(socket)), *server_ctx);
          server_result = co_await accept_channel(stream, server_config);
          server_finished_ = std::chrono::steady_clock::now();
          linger.cancel();
        },
        asio::detached);
    auto client_ctx = client_context();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          boost::beast::tcp_stream tcp_stream(io);
          co_await tcp_stream.async_connect(
              tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kUseTuple);
          TlsStream stream(std::move(tcp_stream), *client_ctx);
          tls::prepare_client_connection(stream.native_handle(), "localhost").value();
          co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
          // Consume the server's frame (10 bytes for none), then send our bytes and linger.
          std::array<char, 10> server_frame{};
          co_await asio::async_read(stream, asio::buffer(server_frame), kUseTuple);
          if (!client_bytes.empty()) {
            co_await asio::async_write(stream, asio::buffer(client_bytes), kUseTuple);
          }
          co_await linger.async_wait(kUseTuple);
        },
        asio::detached);
    io.run_for(std::chrono::seconds(10));
    return std::move(*server_result);
  }

  std::chrono::steady_clock::time_point server_finished_;
};

TEST_F(MisbehavingPeerTest, StalledPeerTimesOut) {
  const auto start = std::chrono::steady_clock::now();
  auto result = server_against("", std::chrono::milliseconds(300));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, make_error_code(Errc::ExchangeTimeout));
  // The step deadline (300 ms), not the peer's 10 s linger, ended the exchange.
  EXPECT_LT(server_finished_ - start, std::chrono::seconds(3));
}

TEST_F(MisbehavingPeerTest, PeerStallingInsideTheFrameTimesOut) {
  auto result =
      server_against(std::string("\x00\x00\x00\x10\x10", 5), std::chrono::milliseconds(300));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, make_error_code(Errc::ExchangeTimeout));
}

TEST_F(MisbehavingPeerTest, OversizedFrameHeaderIsRejectedBeforeAllocation) {
  auto result = server_against(std::string("\x00\x01\x00\x01", 4), std::chrono::seconds(2));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, make_error_code(Errc::FrameTooLarge));
}

TEST_F(MisbehavingPeerTest, UnknownTypeStringIsRejected) {
  auto result =
      server_against(std::string("\x00\x00\x00\x06\x10NONE\x00", 10), std::chrono::seconds(2));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, make_error_code(Errc::UnknownAttestationType));
}

TEST_F(MisbehavingPeerTest, NoneWithEvidenceIsRejected) {
  auto result =
      server_against(std::string("\x00\x00\x00\x07\x10none\x04\x01", 11), std::chrono::seconds(2));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, make_error_code(Errc::AttestationGivenWhenNoneExpected));
}

}  // namespace
}  // namespace atls::ratls
