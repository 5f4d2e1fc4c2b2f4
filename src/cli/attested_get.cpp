// `attested-get` (interop spec §8.6): one GET over a verified attested channel; the response
// body goes to stdout. Unlike flashbots the HTTP status is checked: >= 400 exits with 5.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <iostream>

#include "attest/none/none_attester.h"
#include "cli/commands.h"
#include "http/h1_client.h"
#include "http/h2_session.h"
#include "http/stream_util.h"
#include "net/address.h"
#include "proxy/http/attestation_headers.h"
#include "ratls/alpn.h"
#include "ratls/connector.h"

namespace atls::cli {
namespace {

namespace asio = boost::asio;

struct AttestedGetOptions {
  std::string server;
  std::string url_path;
  ClientTlsFlags tls;
};

struct GetResult {
  int status = 0;
  ratls::PeerAttestation peer;
};

asio::awaitable<Outcome<GetResult>> get(net::HostPort target, std::string path,
                                        tls::SharedSslContext context,
                                        ratls::ChannelConfig config) {
  auto executor = co_await asio::this_coro::executor;
  auto channel = co_await ratls::connect_channel(target, context, config);
  if (!channel) {
    co_return channel.error();
  }
  GetResult result;
  result.peer = channel->info.peer;
  http::RequestHead request;
  request.method = "GET";
  request.target = path;
  request.headers.add("host", target.to_string());
  request.headers.add("user-agent", "atls-proxy attested-get");
  auto no_body = std::make_shared<http::BodyPipe>();
  no_body->finish();
  std::shared_ptr<http::UpstreamSession> session;
  std::shared_ptr<http::H2Session<http::TlsStream>> h2;
  if (channel->info.http_version == ratls::HttpVersion::Http2) {
    h2 = http::H2Session<http::TlsStream>::make_client(std::move(*channel->stream), {});
    if (!h2) {
      co_return Failure{make_error_code(boost::system::errc::io_error), "HTTP/2 setup"};
    }
    auto runner = [](std::shared_ptr<http::H2Session<http::TlsStream>> s) -> asio::awaitable<void> {
      co_await s->run();
    }(h2);
    asio::co_spawn(executor, std::move(runner), asio::detached);
    session = h2;
  } else {
    session = std::make_shared<http::H1ClientSession<http::TlsStream>>(std::move(*channel->stream),
                                                                       http::H1ClientOptions{});
  }
  http::InformationalHandler ignore_interim;
  auto response =
      co_await session->send(std::move(request), std::move(no_body), std::move(ignore_interim));
  if (!response) {
    co_return response.error();
  }
  result.status = response->head.status;
  if (response->body) {
    for (;;) {
      auto chunk = co_await response->body->read();
      if (chunk.error) {
        co_return Failure{chunk.error, "response body"};
      }
      if (chunk.end) {
        break;
      }
      std::cout.write(reinterpret_cast<const char*>(chunk.data.data()),
                      static_cast<std::streamsize>(chunk.data.size()));
    }
  }
  std::cout.flush();
  if (h2) {
    h2->shutdown();
  }
  co_return result;
}

int run_attested_get(const GlobalOptions& global, const AttestedGetOptions& options) {
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
  auto context = make_client_tls(tls_flags, ratls::ratls_alpn_list(ratls::with_http_protocols({})));
  if (!context) {
    spdlog::error("{}", context.error().describe());
    return kExitUsage;
  }
  // §8.6: one leading "/" of --url-path is removed, then the path is made absolute.
  std::string_view path = options.url_path;
  if (path.starts_with("/")) {
    path.remove_prefix(1);
  }
  std::optional<Outcome<GetResult>> result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    asio::io_context io(1);
    asio::thread_pool pool(1);
    auto config = make_channel_config(std::make_shared<attest::NoneAttester>(), *appraiser,
                                      pool.get_executor(), global, nullptr);
    result.reset();
    asio::co_spawn(io, get(*target, "/" + std::string(path), *context, config),
                   [&result](std::exception_ptr error, Outcome<GetResult> r) {
                     result = error ? Outcome<GetResult>(
                                          Failure{make_error_code(boost::system::errc::io_error),
                                                  "unexpected exception"})
                                    : std::move(r);
                   });
    io.run();
    pool.join();
    if (*result || attempt > 0 || !(*sources)->is_transient(result->error().code)) {
      break;
    }
    // The verifier scheduled a background fetch of what it missed: wait for it, retry once.
    spdlog::warn("attested-get {}: {}; retrying once the background fetch has run",
                 target->to_string(), result->error().describe());
    (*sources)->wait_for_fetches(global.step_timeout());
  }
  if (!*result) {
    spdlog::error("attested-get {}: {}", target->to_string(), result->error().describe());
    return exit_code_for_channel_failure(result->error());
  }
  if ((*result)->status >= 400) {
    spdlog::error("attested-get {}: HTTP status {}", target->to_string(), (*result)->status);
    return kExitHttpStatus;
  }
  return kExitOk;
}

}  // namespace

void add_attested_get_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<AttestedGetOptions>();
  auto* command = app.add_subcommand(
      "attested-get", "GET one path over a verified attested channel; the body goes to stdout");
  command->add_option("target_addr", options->server, "Proxy-server host[:port] (443 default)")
      ->required();
  command->add_option("--url-path", options->url_path, "Path to request (default /)");
  add_client_tls_flags(*command, options->tls, /*with_client_certificate=*/false);
  command->callback([&global, &action, options] {
    action = [&global, options] { return run_attested_get(global, *options); };
  });
}

}  // namespace atls::cli
