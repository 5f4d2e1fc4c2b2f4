#pragma once
// ALPN for flashbots-ratls (interop spec §1.2).
//
// Both sides advertise "flashbots-ratls/1+<inner>" for every inner protocol, in order, followed
// by the bare "flashbots-ratls/1". The server selects by its own preference. Each side then
// derives the HTTP version from the negotiated string's suffix.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atls::ratls {

inline constexpr std::string_view kProtocolV1 = "flashbots-ratls/1";
inline constexpr std::string_view kAlpnH2 = "h2";
inline constexpr std::string_view kAlpnHttp11 = "http/1.1";

/// The construction rule of §1.2 applied to `inner`.
std::vector<std::string> ratls_alpn_list(std::span<const std::string> inner);

/// `inner` with "h2" and "http/1.1" appended if missing (existing order kept, no duplicates),
/// as the HTTP proxy does before building its ALPN list.
std::vector<std::string> with_http_protocols(std::vector<std::string> inner);

/// Whether a negotiated protocol belongs to flashbots-ratls (bare or "+inner").
bool is_ratls_protocol(std::string_view negotiated) noexcept;

enum class HttpVersion { Http1, Http2 };

/// Ends with "h2" -> HTTP/2; anything else (including bare "flashbots-ratls/1") -> HTTP/1.1.
HttpVersion http_version_for(std::string_view negotiated) noexcept;

}  // namespace atls::ratls
