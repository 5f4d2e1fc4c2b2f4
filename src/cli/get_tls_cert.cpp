// `get-tls-cert` (interop spec §8.4): attested connect, verify, print the server's PEM chain.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fstream>
#include <iostream>

#include "attest/none/none_attester.h"
#include "cli/commands.h"
#include "http/stream_util.h"
#include "net/address.h"
#include "ratls/connector.h"
#include "tls/credentials.h"

namespace atls::cli {
namespace {

namespace asio = boost::asio;

struct GetTlsCertOptions {
  std::string server;  ///< host[:port], port 443 by default
  ClientTlsFlags tls;  ///< only ca_certificate and allow_self_signed apply
  std::optional<std::string> out_measurements;
};

struct Retrieved {
  std::string chain_pem;
  ratls::ChannelInfo info;
};

asio::awaitable<Outcome<Retrieved>> retrieve(net::HostPort target, tls::SharedSslContext context,
                                             ratls::ChannelConfig config) {
  auto channel = co_await ratls::connect_channel(target, context, config);
  if (!channel) {
    co_return channel.error();
  }
  Retrieved out;
  out.info = std::move(channel->info);
  // On a client, SSL_get_peer_cert_chain includes the leaf.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(channel->stream->native_handle());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    out.chain_pem += tls::to_pem(sk_X509_value(chain, i));
    out.chain_pem += '\n';  // a blank line after each block, as flashbots prints
  }
  // Close politely; the certificate is already verified, so a slow close is not an error.
  co_await http::close_stream(*channel->stream);
  co_return out;
}

int run_get_tls_cert(const GlobalOptions& global, const GetTlsCertOptions& options) {
  auto sources = open_verification_sources(global);
  if (!sources) {
    spdlog::error("{}", sources.error().describe());
    return kExitUsage;
  }
  auto appraiser = make_appraiser(global, **sources);
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

  std::optional<Outcome<Retrieved>> result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    asio::io_context io(1);
    asio::thread_pool pool(1);
    auto config = make_channel_config(std::make_shared<attest::NoneAttester>(), *appraiser,
                                      pool.get_executor(), global, nullptr);
    result.reset();
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
    if (*result || attempt > 0 || !(*sources)->is_transient(result->error().code)) {
      break;
    }
    // The verifier scheduled a background fetch of what it missed: wait for it, retry once.
    spdlog::warn("get-tls-cert {}: {}; retrying once the background fetch has run",
                 target->to_string(), result->error().describe());
    (*sources)->wait_for_fetches(global.step_timeout());
  }

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

}  // namespace

void add_get_tls_cert_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<GetTlsCertOptions>();
  auto* command = app.add_subcommand(
      "get-tls-cert",
      "Connect to a proxy-server, verify its attestation and print its PEM certificate chain");
  command->add_option("server", options->server, "Proxy-server host[:port] (port 443 default)")
      ->required();
  add_client_tls_flags(*command, options->tls, /*with_client_certificate=*/false);
  command->add_option("--out-measurements", options->out_measurements,
                      "Write the verified measurements as JSON to this file");
  command->callback([&global, &action, options] {
    action = [&global, options] { return run_get_tls_cert(global, *options); };
  });
}

}  // namespace atls::cli
