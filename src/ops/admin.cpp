#include "ops/admin.h"

#include <boost/asio/this_coro.hpp>

#include "http/h1_server.h"

namespace atls::ops {

namespace asio = boost::asio;

void Readiness::set(const std::string& check, bool ok, std::string detail) {
  std::lock_guard lock(mutex_);
  probes_.erase(check);
  checks_[check] = ReadinessCheck{ok, std::move(detail)};
}

void Readiness::add_probe(const std::string& check, Probe probe) {
  std::lock_guard lock(mutex_);
  checks_.erase(check);
  probes_[check] = std::move(probe);
}

std::map<std::string, ReadinessCheck> Readiness::evaluate() const {
  std::map<std::string, ReadinessCheck> checks;
  std::map<std::string, Probe> probes;
  {
    std::lock_guard lock(mutex_);
    checks = checks_;
    probes = probes_;
  }
  for (const auto& [name, probe] : probes) {
    checks[name] = probe();
  }
  return checks;
}

bool Readiness::ready() const {
  const auto checks = evaluate();
  if (checks.empty()) {
    return false;
  }
  for (const auto& [name, check] : checks) {
    if (!check.ok) {
      return false;
    }
  }
  return true;
}

nlohmann::json Readiness::report() const {
  const auto evaluated = evaluate();
  nlohmann::json checks = nlohmann::json::object();
  bool ready = !evaluated.empty();
  for (const auto& [name, check] : evaluated) {
    checks[name] = {{"ok", check.ok}, {"detail", check.detail}};
    ready = ready && check.ok;
  }
  return {{"ready", ready}, {"checks", std::move(checks)}};
}

http::RequestHandler admin_handler(std::shared_ptr<Registry> registry,
                                   std::shared_ptr<Readiness> readiness, std::string version) {
  return [registry, readiness, version](http::ServerExchangePtr exchange) -> asio::awaitable<void> {
    const auto& request = exchange->request();
    const std::string_view target = request.target;
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/health" && path != "/attestation/ready" && path != "/metrics") {
      http::send_not_found(*exchange);
      co_return;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      http::send_method_not_allowed(*exchange, "GET, HEAD");
      co_return;
    }
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    if (path == "/health") {
      body = nlohmann::json{{"status", "ok"}, {"version", version}}.dump() + "\n";
    } else if (path == "/attestation/ready") {
      const auto report = readiness->report();
      status = report["ready"].get<bool>() ? 200 : 503;
      body = report.dump() + "\n";
    } else {
      body = registry->render();
      content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    auto response = http::make_text_response(status, body);
    response.head.headers.set("content-type", content_type);
    response.head.headers.set("cache-control", "no-store");
    exchange->send_response(std::move(response.head), std::move(response.body));
  };
}

}  // namespace atls::ops
