#include "attest/collateral/errors.h"

#include <array>

namespace atls::attest::collateral {
namespace {

constexpr std::array kTable{
    errc_row(Errc::NotCached, "not_cached",
             "nothing is cached for this key yet (a background fetch is scheduled)"),
    errc_row(Errc::Expired, "expired",
             "the cached documents have expired and no refresh has succeeded since"),
    errc_row(Errc::CacheFull, "cache_full", "the cache holds its maximum number of keys"),
    errc_row(Errc::FetchFailed, "fetch_failed",
             "the request failed in transport (resolve, connect, TLS, timeout, size limit)"),
    errc_row(Errc::NotFound, "not_found", "the server has no such document (HTTP 404)"),
    errc_row(Errc::HttpStatus, "http_status", "the server answered with an unexpected status"),
    errc_row(Errc::RateLimited, "rate_limited",
             "the server asked the client to slow down (HTTP 429, or a pending Retry-After)"),
    errc_row(Errc::ServerError, "server_error", "the server failed (HTTP 5xx)"),
    errc_row(Errc::CircuitOpen, "circuit_open",
             "requests are suspended after repeated upstream failures (circuit breaker open)"),
    errc_row(Errc::InvalidResponse, "invalid_response",
             "a response lacks a required header or its documents do not parse"),
    errc_row(Errc::ValidationFailed, "validation_failed",
             "fetched documents failed verification and were not cached"),
    errc_row(Errc::Regression, "regression",
             "fetched documents are older than the cached ones and were not cached"),
    errc_row(Errc::CacheIoFailed, "cache_io_failed", "cannot read or write the cache directory"),
    errc_row(Errc::CacheFileMalformed, "cache_file_malformed", "a cache file is corrupt"),
    errc_row(Errc::InvalidKey, "invalid_key",
             "a cache key must be 1-128 characters of [a-z0-9._-] and start with the prefix"),
    errc_row(Errc::InvalidOptions, "invalid_options", "invalid collateral service options"),
    errc_row(Errc::Timeout, "timeout", "the fetch did not complete in time"),
};

const NamedCategory kCategory{"collateral", kTable};

}  // namespace

const NamedCategory& collateral_category() noexcept {
  return kCategory;
}

}  // namespace atls::attest::collateral
