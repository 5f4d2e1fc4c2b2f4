#include "proxy/http/file_server.h"

#include <boost/asio/this_coro.hpp>
#include <fstream>

#include "core/bytes.h"
#include "http/h1_server.h"

namespace atls::proxy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const int high = hex_digit_value(text[i + 1]);
    const int low = hex_digit_value(text[i + 2]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

std::string_view content_type_for(const fs::path& path) {
  const std::string ext = path.extension().string();
  struct Entry {
    std::string_view extension;
    std::string_view type;
  };
  static constexpr Entry kTypes[] = {
      {".txt", "text/plain"},      {".html", "text/html"},        {".htm", "text/html"},
      {".css", "text/css"},        {".js", "text/javascript"},    {".json", "application/json"},
      {".xml", "application/xml"}, {".png", "image/png"},         {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},     {".gif", "image/gif"},         {".svg", "image/svg+xml"},
      {".pdf", "application/pdf"}, {".wasm", "application/wasm"}, {".md", "text/markdown"},
      {".csv", "text/csv"},
  };
  for (const auto& entry : kTypes) {
    if (ext == entry.extension) {
      return entry.type;
    }
  }
  return "application/octet-stream";
}

std::optional<fs::path> resolve_request_path(const fs::path& root, std::string_view target) {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path.front() != '/') {
    return std::nullopt;
  }
  auto decoded = percent_decode(path);
  if (!decoded || decoded->find('\0') != std::string::npos) {
    return std::nullopt;
  }
  fs::path relative;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.empty() || segment == ".") {
      continue;
    }
    if (segment == ".." || segment.find('\\') != std::string_view::npos) {
      return std::nullopt;
    }
    relative /= fs::path(std::string(segment));
  }
  std::error_code ec;
  const fs::path canonical_root = fs::weakly_canonical(root, ec);
  if (ec) {
    return std::nullopt;
  }
  fs::path candidate = fs::weakly_canonical(canonical_root / relative, ec);
  if (ec) {
    return std::nullopt;
  }
  // Symlinks must not lead out of the root either.
  const auto mismatch = std::mismatch(canonical_root.begin(), canonical_root.end(),
                                      candidate.begin(), candidate.end());
  if (mismatch.first != canonical_root.end()) {
    return std::nullopt;
  }
  return candidate;
}

http::RequestHandler file_server_handler(fs::path root) {
  return [root](http::ServerExchangePtr exchange) -> asio::awaitable<void> {
    const auto& request = exchange->request();
    if (request.method != "GET" && request.method != "HEAD") {
      http::send_method_not_allowed(*exchange, "GET, HEAD");
      co_return;
    }
    auto path = resolve_request_path(root, request.target);
    std::error_code ec;
    if (path && fs::is_directory(*path, ec)) {
      *path /= "index.html";
    }
    if (!path || !fs::is_regular_file(*path, ec)) {
      http::send_not_found(*exchange);
      co_return;
    }
    std::ifstream file(*path, std::ios::binary);
    const auto size = fs::file_size(*path, ec);
    if (!file || ec) {
      auto failed = http::make_text_response(403, "Forbidden\n");
      exchange->send_response(std::move(failed.head), std::move(failed.body));
      co_return;
    }
    http::ResponseHead head;
    head.status = 200;
    head.headers.add("content-type", content_type_for(*path));
    head.content_length = size;
    auto body = std::make_shared<http::BodyPipe>();
    exchange->send_response(std::move(head), body);
    if (request.method == "HEAD") {
      body->finish();
      co_return;
    }
    // Streamed in bounded chunks: the pipe's back-pressure keeps memory flat for large files.
    std::uint64_t remaining = size;
    while (remaining > 0) {
      if (!body->writable()) {
        co_await body->wait_writable();
        if (body->consumer_gone()) {
          co_return;
        }
        continue;
      }
      Bytes chunk(
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining, std::uint64_t{64} * 1024)));
      file.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
      if (file.gcount() <= 0) {
        body->fail(make_error_code(boost::system::errc::io_error));
        co_return;
      }
      chunk.resize(static_cast<std::size_t>(file.gcount()));
      remaining -= chunk.size();
      body->write(std::move(chunk));
    }
    body->finish();
  };
}

}  // namespace atls::proxy
