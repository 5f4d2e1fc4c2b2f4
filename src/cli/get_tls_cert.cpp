#include "cli/get_tls_cert.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "attest/none/none_attester.h"
#include "net/address.h"
#include "net/connect.h"
#include "ratls/channel.h"
#include "tls/credentials.h"

namespace atls::cli {
namespace {

namespace asio = boost::asio;

struct Retrieved {
  std::string chain_pem;
  ratls::ChannelInfo info;
};

asio::awaitable<Outcome<Retrieved>> retrieve(net::HostPort target, tls::SharedSslContext context,
                                             ratls::ChannelConfig config) {
  auto tcp = co_await net::connect_tcp(target, config.step_timeout);
  if (!tcp) {
    co_return tcp.error();
  }
  ratls::TlsStream stream(boost::beast::tcp_stream(std::move(*tcp)), *context);
  auto info = co_await ratls::open_channel(stream, target.host, config);
  if (!info) {
    co_return info.error();
  }
  Retrieved out;
  out.info = std::move(*info);
  // The client-side chain includes the leaf (SSL_get_peer_cert_chain on a client).
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(stream.native_handle());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    out.chain_pem += tls::to_pem(sk_X509_value(chain, i));
    out.chain_pem += '\n';  // a blank line after each block, as flashbots prints
  }
  // Close politely; the certificate is already verified, so a slow close is not an error.
  boost::beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  co_return out;
}

}  // namespace

int run_get_tls_cert(const GlobalOptions& global, const GetTlsCertOptions& options) {
  auto appraiser = make_appraiser(global);
  if (!appraiser) {
    spdlog::error("{}", appraiser.error().describe());
    return kExitUsage;
  }
  auto target = net::parse_host_port(options.server, 443);
  if (!target) {
    spdlog::error("server address: {}", target.error().describe());
    return kExitUsage;
  }
  ClientTlsFlags tls_flags = options.tls;
  tls_flags.private_key_path.reset();  // get-tls-cert never presents a client certificate
  tls_flags.certificate_path.reset();
  // A bare attested-TLS client: only the protocol id, no inner protocol (§1.2).
  auto context = make_client_tls(tls_flags, ratls::ratls_alpn_list({}));
  if (!context) {
    spdlog::error("{}", context.error().describe());
    return kExitUsage;
  }

  asio::io_context io(1);
  asio::thread_pool pool(1);
  ratls::ChannelConfig config;
  config.attester = std::make_shared<attest::NoneAttester>();
  config.appraiser = *appraiser;
  config.attestation_executor = pool.get_executor();
  config.step_timeout = global.step_timeout();
  config.clock = std::make_shared<SystemClock>();

  std::optional<Outcome<Retrieved>> result;
  asio::co_spawn(io, retrieve(*target, *context, config),
                 [&result](std::exception_ptr error, Outcome<Retrieved> r) {
                   if (error) {
                     result = Failure{make_error_code(boost::system::errc::io_error),
                                      "unexpected exception"};
                   } else {
                     result = std::move(r);
                   }
                 });
  io.run();
  pool.join();

  if (!*result) {
    const Failure& failure = result->error();
    spdlog::error("get-tls-cert {}: {}", target->to_string(), failure.describe());
    return exit_code_for_channel_failure(failure);
  }
  const auto& peer = (*result)->info.peer;
  if (peer.attested()) {
    spdlog::info("server attested as {} ({})", attest::to_string(peer.claims->type),
                 peer.matched_record);
  } else {
    spdlog::info("server is unattested (policy accepts none){}",
                 peer.downgrade_reason.empty() ? "" : ": " + peer.downgrade_reason);
  }
  if (options.out_measurements) {
    std::ofstream out(*options.out_measurements, std::ios::binary | std::ios::trunc);
    out << (peer.attested() ? attest::measurements_to_json(peer.claims->measurements) : "{}");
    if (!out) {
      spdlog::error("cannot write {}", *options.out_measurements);
      return kExitUsage;
    }
  }
  std::cout << (*result)->chain_pem << std::flush;
  return kExitOk;
}

}  // namespace atls::cli
