#include "net/http_get.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>

#include "net/errors.h"
#include "tls/context.h"
#include "tls/credentials.h"

namespace atls::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Failure fail(Errc code, const std::string& detail) {
  return Failure{make_error_code(code), detail};
}

template <class Stream>
asio::awaitable<Outcome<HttpResponse>> request(Stream& stream, const Url& url,
                                               const HttpGetOptions& options) {
  http::request<http::string_body> req;
  req.method_string(options.method);
  req.target(url.target);
  req.version(11);
  req.set(http::field::host, url.authority.to_string());
  req.set(http::field::user_agent, "atls-proxy");
  req.set(http::field::accept, options.accept);
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : options.headers) {
    req.set(name, value);
  }
  if (options.method != "GET" || !options.body.empty()) {
    if (!options.content_type.empty()) {
      req.set(http::field::content_type, options.content_type);
    }
    req.body() = options.body;
    req.prepare_payload();
  }
  auto [write_ec, written] = co_await http::async_write(stream, req, kUseTuple);
  if (write_ec) {
    co_return fail(write_ec == beast::error::timeout ? Errc::Timeout : Errc::ConnectFailed,
                   write_ec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (read_ec == http::error::body_limit) {
    co_return fail(Errc::BodyTooLarge, std::to_string(options.max_body_bytes) + " bytes max");
  }
  if (read_ec) {
    co_return fail(read_ec == beast::error::timeout ? Errc::Timeout : Errc::ProtocolError,
                   read_ec.message());
  }
  auto response = parser.release();
  HttpResponse out;
  out.status = response.result_int();
  for (const auto& field : response) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(response.body());
  co_return out;
}

asio::awaitable<Outcome<HttpResponse>> fetch(const Url& url, const HttpGetOptions& options) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(
      url.authority.host, std::to_string(url.authority.port), kUseTuple);
  if (resolve_ec) {
    co_return fail(Errc::ResolveFailed, url.authority.host + ": " + resolve_ec.message());
  }
  beast::tcp_stream tcp(executor);
  tcp.expires_after(options.timeout);
  auto [connect_ec, endpoint] = co_await tcp.async_connect(endpoints, kUseTuple);
  if (connect_ec) {
    co_return fail(connect_ec == beast::error::timeout ? Errc::Timeout : Errc::ConnectFailed,
                   url.authority.to_string() + ": " + connect_ec.message());
  }
  if (url.scheme == "http") {
    co_return co_await request(tcp, url, options);
  }
  tls::ClientContextOptions tls_options;
  tls_options.alpn = {"http/1.1"};
  if (options.ca_file) {
    auto anchors = tls::load_certificates(*options.ca_file);
    if (!anchors) {
      co_return anchors.error();
    }
    tls_options.extra_trust_anchors = std::move(*anchors);
  }
  auto context = tls::make_client_context(tls_options);
  if (!context) {
    co_return context.error();
  }
  asio::ssl::stream<beast::tcp_stream> stream(std::move(tcp), **context);
  if (auto r = tls::prepare_client_connection(stream.native_handle(), url.authority.host); !r) {
    co_return fail(Errc::TlsFailed, "invalid host name " + url.authority.host);
  }
  auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
  if (handshake_ec) {
    const long verify = SSL_get_verify_result(stream.native_handle());
    std::string detail = handshake_ec.message();
    if (verify != X509_V_OK) {
      detail += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    co_return fail(handshake_ec == beast::error::timeout ? Errc::Timeout : Errc::TlsFailed,
                   url.authority.to_string() + ": " + detail);
  }
  co_return co_await request(stream, url, options);
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (beast::iequals(field, name)) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Outcome<std::string> http_get(const Url& url, const HttpGetOptions& options) {
  auto response = http_request(url, options);
  if (!response) {
    return response.error();
  }
  if (response->status < 200 || response->status > 299) {
    return fail(Errc::HttpStatus, std::to_string(response->status));
  }
  return std::move(response->body);
}

Outcome<HttpResponse> http_request(const Url& url, const HttpGetOptions& options) {
  asio::io_context io;
  std::optional<Outcome<HttpResponse>> result;
  asio::co_spawn(io, fetch(url, options),
                 [&result](std::exception_ptr error, Outcome<HttpResponse> r) {
                   if (error) {
                     result = fail(Errc::ProtocolError, "unexpected exception");
                   } else {
                     result = std::move(r);
                   }
                 });
  io.run();
  return std::move(*result);
}

}  // namespace atls::net
