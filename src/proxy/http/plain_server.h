#pragma once
// A small plain-HTTP/1.1 listener for local endpoints that need no attestation: the health
// check (interop spec §7.6) and, later, the admin endpoints.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "http/h1_server.h"

namespace atls::proxy {

class PlainHttpServer {
 public:
  PlainHttpServer(boost::asio::io_context& io, http::RequestHandler handler,
                  http::H1ServerOptions options = {});
  Outcome<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void close();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::io_context& io_;
  http::RequestHandler handler_;
  http::H1ServerOptions options_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

/// §7.6: GET or HEAD on any path -> 200 application/json with the package version; other
/// methods -> 405. No attestation is involved.
http::RequestHandler health_check_handler(std::string version);

}  // namespace atls::proxy
