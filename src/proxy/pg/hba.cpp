#include "proxy/pg/hba.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "proxy/pg/errors.h"

namespace atls::proxy::pg {

namespace ip = boost::asio::ip;

ip::address normalize_address(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

namespace {

// How many leading bits of byte `index` a prefix of `prefix` bits covers.
unsigned bits_in_byte(std::size_t index, unsigned prefix) {
  const std::size_t start = index * 8;
  if (prefix <= start) {
    return 0;
  }
  return static_cast<unsigned>(std::min<std::size_t>(8, prefix - start));
}

template <std::size_t N>
bool prefix_equal(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& b,
                  unsigned prefix) {
  for (std::size_t i = 0; i < N; ++i) {
    const unsigned bits = bits_in_byte(i, prefix);
    if (bits == 0) {
      return true;
    }
    const auto mask = static_cast<unsigned char>(0xffU << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) {
      return false;
    }
  }
  return true;
}

template <std::size_t N>
bool host_bits_zero(const std::array<unsigned char, N>& a, unsigned prefix) {
  for (std::size_t i = 0; i < N; ++i) {
    const unsigned bits = bits_in_byte(i, prefix);
    const auto mask = static_cast<unsigned char>(bits == 0 ? 0U : (0xffU << (8 - bits)));
    if ((a[i] & static_cast<unsigned char>(~mask)) != 0) {
      return false;
    }
  }
  return true;
}

// Prefix length of a contiguous netmask ("255.255.255.0" -> 24); nullopt if not contiguous.
template <std::size_t N>
std::optional<unsigned> mask_prefix(const std::array<unsigned char, N>& mask) {
  unsigned prefix = 0;
  bool ended = false;
  for (unsigned char byte : mask) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = ((byte >> bit) & 1U) != 0;
      if (set && ended) {
        return std::nullopt;
      }
      if (set) {
        ++prefix;
      } else {
        ended = true;
      }
    }
  }
  return prefix;
}

}  // namespace

bool Cidr::contains(const ip::address& raw) const noexcept {
  const ip::address address = normalize_address(raw);
  if (address.is_v4() != network.is_v4()) {
    return false;
  }
  if (address.is_v4()) {
    return prefix_equal(address.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix);
  }
  return prefix_equal(address.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix);
}

std::string Cidr::to_string() const {
  return fmt::format("{}/{}", network.to_string(), prefix);
}

Result<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const ip::address address = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) {
    return make_error_code(Errc::AllowlistSyntax);
  }
  Cidr cidr;
  cidr.network = normalize_address(address);
  const unsigned max = cidr.network.is_v4() ? 32U : 128U;
  cidr.prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned prefix = 0;
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
        prefix > max) {
      return make_error_code(Errc::AllowlistSyntax);
    }
    cidr.prefix = prefix;
  }
  const bool zero = cidr.network.is_v4()
                        ? host_bits_zero(cidr.network.to_v4().to_bytes(), cidr.prefix)
                        : host_bits_zero(cidr.network.to_v6().to_bytes(), cidr.prefix);
  if (!zero) {
    return make_error_code(Errc::AllowlistSyntax);
  }
  return cidr;
}

Outcome<IpAllowlist> IpAllowlist::parse(const std::vector<std::string>& entries) {
  IpAllowlist list;
  for (const auto& entry : entries) {
    auto cidr = parse_cidr(entry);
    if (!cidr) {
      return Failure{cidr.error(),
                     fmt::format("allowlist entry \"{}\": expected an address or CIDR block "
                                 "with zero host bits",
                                 entry)};
    }
    list.blocks_.push_back(*cidr);
  }
  return list;
}

bool IpAllowlist::allows(const ip::address& address) const noexcept {
  for (const auto& block : blocks_) {
    if (block.contains(address)) {
      return true;
    }
  }
  return false;
}

// ---- host-based rules ----

namespace {

struct Field {
  struct Item {
    std::string text;
    bool quoted = false;
  };
  std::vector<Item> items;  // comma-separated list members
};

// Splits one line into whitespace-separated fields, each a comma-separated list; double quotes
// protect spaces, commas and '#', and mark the item as quoted (no keyword meaning). A '#'
// outside quotes starts a comment. Errors: an unterminated quote.
Result<std::vector<Field>> tokenize(std::string_view line) {
  std::vector<Field> fields;
  std::size_t i = 0;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) {
      ++i;
    }
    if (i >= line.size() || line[i] == '#') {
      break;
    }
    Field field;
    Field::Item item;
    bool in_item = false;
    while (i < line.size() && !is_space(line[i]) && line[i] != '#') {
      const char c = line[i];
      if (c == '"') {
        const auto close = line.find('"', i + 1);
        if (close == std::string_view::npos) {
          return make_error_code(Errc::HbaSyntax);
        }
        item.text.append(line.substr(i + 1, close - i - 1));
        item.quoted = true;
        in_item = true;
        i = close + 1;
        continue;
      }
      if (c == ',') {
        if (!in_item) {
          return make_error_code(Errc::HbaSyntax);  // empty list member
        }
        field.items.push_back(std::move(item));
        item = Field::Item{};
        in_item = false;
        ++i;
        continue;
      }
      item.text.push_back(c);
      in_item = true;
      ++i;
    }
    if (!in_item) {
      return make_error_code(Errc::HbaSyntax);  // trailing comma
    }
    field.items.push_back(std::move(item));
    fields.push_back(std::move(field));
  }
  return fields;
}

bool single_keyword(const Field& field, std::string_view keyword) {
  return field.items.size() == 1 && !field.items[0].quoted && field.items[0].text == keyword;
}

}  // namespace

Outcome<HbaRules> HbaRules::parse(std::string_view text) {
  HbaRules rules;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);

    const auto syntax = [&](std::string_view what) {
      return Failure{make_error_code(Errc::HbaSyntax),
                     fmt::format("line {}: {}", line_number, what)};
    };
    const auto unsupported = [&](std::string_view what) {
      return Failure{make_error_code(Errc::HbaUnsupported),
                     fmt::format("line {}: {}", line_number, what)};
    };

    auto fields = tokenize(line);
    if (!fields) {
      return syntax("unterminated quote or empty list member");
    }
    if (fields->empty()) {
      continue;
    }
    const auto& f = *fields;
    if (f[0].items.size() != 1 || f[0].items[0].quoted) {
      return syntax("the connection type must be a single keyword");
    }
    const std::string& type = f[0].items[0].text;
    Record record;
    record.line = line_number;
    if (type == "host" || type == "hostnogssenc") {
      record.type = ConnType::Host;
    } else if (type == "hostssl") {
      record.type = ConnType::HostSsl;
    } else if (type == "hostnossl") {
      record.type = ConnType::HostNoSsl;
    } else if (type == "local" || type == "hostgssenc" || type.starts_with("include")) {
      return unsupported(fmt::format(
          "\"{}\": the proxy has no Unix socket, GSS encryption or include files", type));
    } else {
      return syntax(fmt::format("unknown connection type \"{}\"", type));
    }
    if (f.size() < 5) {
      return syntax("expected TYPE DATABASE USER ADDRESS METHOD");
    }
    for (const auto& item : f[1].items) {
      if (!item.quoted && (item.text.starts_with('@') || item.text.starts_with('/') ||
                           item.text == "samerole" || item.text == "samegroup")) {
        return unsupported(fmt::format(
            "database \"{}\": @file, /regex and samerole are not supported", item.text));
      }
      if (item.text.empty()) {
        return syntax("empty database name");
      }
      record.databases.push_back(Token{item.text, item.quoted});
    }
    for (const auto& item : f[2].items) {
      if (!item.quoted && (item.text.starts_with('@') || item.text.starts_with('/') ||
                           item.text.starts_with('+'))) {
        return unsupported(
            fmt::format("user \"{}\": @file, /regex and +role are not supported", item.text));
      }
      if (item.text.empty()) {
        return syntax("empty user name");
      }
      record.users.push_back(Token{item.text, item.quoted});
    }
    std::size_t next = 4;
    if (f[3].items.size() != 1) {
      return syntax("the address must be a single value");
    }
    const auto& address = f[3].items[0];
    if (!address.quoted && address.text == "all") {
      record.address.reset();
    } else if (!address.quoted && (address.text == "samehost" || address.text == "samenet")) {
      return unsupported(fmt::format("address \"{}\" is not supported", address.text));
    } else if (address.text.find('/') != std::string::npos) {
      auto cidr = parse_cidr(address.text);
      if (!cidr) {
        return syntax(fmt::format("invalid CIDR address \"{}\"", address.text));
      }
      record.address = *cidr;
    } else {
      boost::system::error_code ec;
      const ip::address host = ip::make_address(address.text, ec);
      if (ec) {
        return unsupported(fmt::format(
            "address \"{}\": host names are not supported (no DNS in the proxy)", address.text));
      }
      // An address without a prefix takes its mask from the next column (pg_hba.conf form
      // "ADDRESS IP-MASK").
      if (f.size() < 6 || f[4].items.size() != 1) {
        return syntax(fmt::format("address \"{}\" needs a /prefix or a mask column", address.text));
      }
      const ip::address mask = ip::make_address(f[4].items[0].text, ec);
      if (ec || mask.is_v4() != host.is_v4()) {
        return syntax(fmt::format("invalid mask \"{}\"", f[4].items[0].text));
      }
      const auto prefix = mask.is_v4() ? mask_prefix(mask.to_v4().to_bytes())
                                       : mask_prefix(mask.to_v6().to_bytes());
      if (!prefix) {
        return syntax(fmt::format("mask \"{}\" is not contiguous", f[4].items[0].text));
      }
      auto cidr = parse_cidr(fmt::format("{}/{}", host.to_string(), *prefix));
      if (!cidr) {
        return syntax(fmt::format("address \"{}\" has bits outside mask \"{}\"", address.text,
                                  f[4].items[0].text));
      }
      record.address = *cidr;
      next = 5;
    }
    if (f.size() <= next) {
      return syntax("missing METHOD");
    }
    if (single_keyword(f[next], "trust")) {
      record.method = HbaMethod::Trust;
    } else if (single_keyword(f[next], "reject")) {
      record.method = HbaMethod::Reject;
    } else if (single_keyword(f[next], "attested")) {
      record.method = HbaMethod::Attested;
    } else if (f[next].items.size() == 1) {
      return unsupported(fmt::format(
          "method \"{}\": the proxy does not authenticate database users (the backend does); "
          "use trust, attested or reject",
          f[next].items[0].text));
    } else {
      return syntax("the method must be a single keyword");
    }
    if (f.size() > next + 1) {
      return unsupported("options after the method are not supported");
    }
    rules.records_.push_back(std::move(record));
  }
  return rules;
}

bool HbaRules::database_matches(const Record& record, const HbaRequest& request) {
  for (const auto& token : record.databases) {
    if (request.physical_replication) {
      // PostgreSQL hba.c check_db(): a physical replication connection names no database and
      // matches only the keyword `replication` (not even `all`).
      if (token.is_keyword("replication")) {
        return true;
      }
      continue;
    }
    if (token.is_keyword("all")) {
      return true;
    }
    if (token.is_keyword("sameuser")) {
      if (request.database == request.user) {
        return true;
      }
      continue;
    }
    if (token.is_keyword("replication")) {
      continue;
    }
    if (token.text == request.database) {
      return true;
    }
  }
  return false;
}

bool HbaRules::user_matches(const Record& record, const HbaRequest& request) {
  for (const auto& token : record.users) {
    if (token.is_keyword("all") || token.text == request.user) {
      return true;
    }
  }
  return false;
}

HbaDecision HbaRules::evaluate(const HbaRequest& request) const {
  HbaDecision decision;
  for (const auto& record : records_) {
    if ((record.type == ConnType::HostSsl && !request.tls) ||
        (record.type == ConnType::HostNoSsl && request.tls)) {
      continue;
    }
    if (record.address && !record.address->contains(request.address)) {
      continue;
    }
    if (!database_matches(record, request) || !user_matches(record, request)) {
      continue;
    }
    decision.line = record.line;
    switch (record.method) {
      case HbaMethod::Trust: decision.allowed = true; break;
      case HbaMethod::Reject: decision.reason = make_error_code(Errc::HbaRejected); break;
      case HbaMethod::Attested:
        decision.allowed = request.attested;
        if (!request.attested) {
          decision.reason = make_error_code(Errc::HbaNotAttested);
        }
        break;
    }
    return decision;
  }
  decision.reason = make_error_code(Errc::HbaNoMatch);
  return decision;
}

}  // namespace atls::proxy::pg
