#pragma once
// The proxy-server's own host-based rules and IP allowlist (standards.md §5.7, PostgreSQL docs
// §21.1 "The pg_hba.conf File"). The backend only ever sees the proxy's address, so rules on the
// client's address must be enforced here. Syntax and semantics: docs/database.md.
//
// Pure (no I/O, no DNS): the rules are parsed from text and evaluated on values.

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace atls::proxy::pg {

/// An address block. IPv4 blocks never match IPv6 addresses and vice versa; IPv4-mapped IPv6
/// addresses (::ffff:a.b.c.d) are normalised to IPv4 before matching (PostgreSQL does the same
/// since 9.0 for its own clients).
struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix = 0;

  bool contains(const boost::asio::ip::address& address) const noexcept;
  std::string to_string() const;
};

/// "a.b.c.d/n", "x::y/n", or a bare address (a single host). Host bits must be zero.
/// Errors: AllowlistSyntax.
Result<Cidr> parse_cidr(std::string_view text);

/// IPv4-mapped IPv6 -> IPv4; anything else unchanged.
boost::asio::ip::address normalize_address(const boost::asio::ip::address& address);

/// The allowlist: a connection whose client address is in none of the blocks is refused.
class IpAllowlist {
 public:
  /// Every entry is a CIDR block or a bare address. Errors: AllowlistSyntax (detail names the
  /// entry). An empty list refuses everything (the CLI does not build one without entries).
  static Outcome<IpAllowlist> parse(const std::vector<std::string>& entries);
  bool allows(const boost::asio::ip::address& address) const noexcept;
  std::size_t size() const noexcept { return blocks_.size(); }

 private:
  std::vector<Cidr> blocks_;
};

/// What the rules are evaluated on.
struct HbaRequest {
  boost::asio::ip::address address;  ///< the client's address (see docs/database.md: trust model)
  std::string database;
  std::string user;
  bool tls = true;  ///< the client's path to the proxy-server is encrypted
  bool physical_replication = false;
  bool attested = false;  ///< the proxy-client's attestation was verified
};

enum class HbaMethod { Trust, Reject, Attested };

struct HbaDecision {
  bool allowed = false;
  /// Why the connection is refused: HbaRejected, HbaNoMatch or HbaNotAttested.
  ErrorCode reason;
  /// 1-based line of the matching record; 0 when no record matched.
  std::size_t line = 0;
};

class HbaRules {
 public:
  /// Parses the whole text. Errors: HbaSyntax, HbaUnsupported (detail names the line and the
  /// token); a file with an error is rejected as a whole, as PostgreSQL does on reload.
  static Outcome<HbaRules> parse(std::string_view text);

  /// First matching record decides; no fall-through; no match = rejected.
  HbaDecision evaluate(const HbaRequest& request) const;
  std::size_t size() const noexcept { return records_.size(); }

 private:
  struct Token {
    std::string text;
    bool quoted = false;
    bool is_keyword(std::string_view keyword) const { return !quoted && text == keyword; }
  };
  enum class ConnType { Host, HostSsl, HostNoSsl };
  struct Record {
    std::size_t line = 0;
    ConnType type = ConnType::Host;
    std::vector<Token> databases;
    std::vector<Token> users;
    std::optional<Cidr> address;  ///< nullopt = all
    HbaMethod method = HbaMethod::Reject;
  };
  static bool database_matches(const Record& record, const HbaRequest& request);
  static bool user_matches(const Record& record, const HbaRequest& request);

  std::vector<Record> records_;
};

}  // namespace atls::proxy::pg
