#include "policy/snp_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/bytes.h"
#include "core/json.h"

namespace atls::policy {
namespace {

using attest::snp::Signer;
using attest::snp::SnpClaims;
using nlohmann::json;

constexpr std::array kErrcTable{
    errc_row(SnpPolicyErrc::NotAnObject, "not_an_object", "SNP policy is not a JSON object"),
    errc_row(SnpPolicyErrc::UnknownField, "unknown_field", "unknown SNP policy field"),
    errc_row(SnpPolicyErrc::WrongFieldType, "wrong_field_type",
             "SNP policy field has the wrong JSON type"),
    errc_row(SnpPolicyErrc::BadHex, "bad_hex", "SNP policy value is not lowercase/uppercase hex"),
    errc_row(SnpPolicyErrc::BadLength, "bad_length", "SNP policy value has the wrong length"),
    errc_row(SnpPolicyErrc::EmptyAllowlist, "empty_allowlist",
             "SNP policy allowlist is empty (it would accept nothing)"),
    errc_row(SnpPolicyErrc::ValueOutOfRange, "value_out_of_range",
             "SNP policy number is out of range"),
    errc_row(SnpPolicyErrc::UnknownProduct, "unknown_product",
             "SNP policy product is not Milan, Genoa or Turin"),
    errc_row(SnpPolicyErrc::UnknownSigner, "unknown_signer",
             "SNP policy signer is not vcek or vlek"),
    errc_row(SnpPolicyErrc::MeasurementNotAllowed, "measurement_not_allowed",
             "launch measurement is not in the allowlist"),
    errc_row(SnpPolicyErrc::HostDataNotAllowed, "host_data_not_allowed",
             "HOST_DATA is not in the allowlist"),
    errc_row(SnpPolicyErrc::IdKeyDigestNotAllowed, "id_key_digest_not_allowed",
             "ID_KEY_DIGEST is not in the allowlist"),
    errc_row(SnpPolicyErrc::AuthorKeyDigestNotAllowed, "author_key_digest_not_allowed",
             "AUTHOR_KEY_DIGEST is not in the allowlist"),
    errc_row(SnpPolicyErrc::FamilyIdNotAllowed, "family_id_not_allowed",
             "FAMILY_ID is not in the allowlist"),
    errc_row(SnpPolicyErrc::ImageIdNotAllowed, "image_id_not_allowed",
             "IMAGE_ID is not in the allowlist"),
    errc_row(SnpPolicyErrc::ChipIdNotAllowed, "chip_id_not_allowed",
             "CHIP_ID is not in the allowlist"),
    errc_row(SnpPolicyErrc::ProductNotAllowed, "product_not_allowed",
             "processor generation is not allowed"),
    errc_row(SnpPolicyErrc::SignerNotAllowed, "signer_not_allowed",
             "signing key kind (VCEK/VLEK) is not allowed"),
    errc_row(SnpPolicyErrc::TcbTooLow, "tcb_too_low",
             "a REPORTED_TCB component is below the policy minimum"),
    errc_row(SnpPolicyErrc::GuestSvnTooLow, "guest_svn_too_low",
             "GUEST_SVN is below the policy minimum"),
    errc_row(SnpPolicyErrc::VmplNotAllowed, "vmpl_not_allowed", "VMPL is not allowed"),
    errc_row(SnpPolicyErrc::DebugNotAllowed, "debug_not_allowed", "guest policy allows debugging"),
    errc_row(SnpPolicyErrc::SmtNotAllowed, "smt_not_allowed", "host runs with SMT enabled"),
    errc_row(SnpPolicyErrc::MigrationAgentNotAllowed, "migration_agent_not_allowed",
             "guest policy allows a migration agent"),
};

const NamedCategory kCategory{"snp_policy", kErrcTable};

class Parser {
 public:
  explicit Parser(std::string_view context) : context_(context) {}

  Failure fail(SnpPolicyErrc code, std::string_view field, std::string_view what) const {
    std::string detail;
    if (!context_.empty()) {
      detail = fmt::format("{}: ", context_);
    }
    detail += fmt::format("field {}: {}", field, what);
    return Failure{make_error_code(code), std::move(detail)};
  }

  // A string, or a non-empty array of strings.
  Outcome<std::vector<std::string>> strings(const json& value, std::string_view field) const {
    std::vector<std::string> out;
    if (value.is_string()) {
      out.push_back(value.get<std::string>());
      return out;
    }
    if (!value.is_array()) {
      return fail(
          SnpPolicyErrc::WrongFieldType, field,
          fmt::format("expected a string or an array of strings, got {}", json_type_name(value)));
    }
    if (value.empty()) {
      return fail(SnpPolicyErrc::EmptyAllowlist, field, "an empty list would accept nothing");
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string()) {
        return fail(SnpPolicyErrc::WrongFieldType, fmt::format("{}[{}]", field, i),
                    fmt::format("expected a string, got {}", json_type_name(value[i])));
      }
      out.push_back(value[i].get<std::string>());
    }
    return out;
  }

  // Hex allowlist of N-byte values. `short_size` (if non-zero) is also accepted and
  // zero-extended (Turin CHIP_IDs use only the first 8 bytes).
  template <std::size_t N>
  Outcome<std::vector<std::array<std::uint8_t, N>>> hex_values(const json& value,
                                                               std::string_view field,
                                                               std::size_t short_size = 0) const {
    auto texts = strings(value, field);
    if (!texts) {
      return texts.error();
    }
    std::vector<std::array<std::uint8_t, N>> out;
    for (std::size_t i = 0; i < texts->size(); ++i) {
      const std::string& text = (*texts)[i];
      const std::string name =
          value.is_array() ? fmt::format("{}[{}]", field, i) : std::string(field);
      const auto bytes = from_hex(text);
      if (!bytes) {
        return fail(SnpPolicyErrc::BadHex, name,
                    text.starts_with("0x") ? "hex without a 0x prefix expected"
                                           : "not an even-length hex string");
      }
      if (bytes->size() != N && (short_size == 0 || bytes->size() != short_size)) {
        return fail(SnpPolicyErrc::BadLength, name,
                    short_size == 0
                        ? fmt::format("{} bytes, expected {}", bytes->size(), N)
                        : fmt::format("{} bytes, expected {} or {}", bytes->size(), N, short_size));
      }
      std::array<std::uint8_t, N> array{};
      std::copy(bytes->begin(), bytes->end(), array.begin());
      out.push_back(array);
    }
    return out;
  }

  Outcome<std::uint64_t> integer(const json& value, std::string_view field,
                                 std::uint64_t maximum) const {
    if (!value.is_number_integer()) {
      return fail(SnpPolicyErrc::WrongFieldType, field,
                  fmt::format("expected an integer 0-{}, got {}", maximum, json_type_name(value)));
    }
    // nlohmann::json stores literals as signed and large values as unsigned.
    if (value.is_number_unsigned()) {
      const auto number = value.get<std::uint64_t>();
      if (number <= maximum) {
        return number;
      }
    } else if (const auto number = value.get<std::int64_t>();
               number >= 0 && static_cast<std::uint64_t>(number) <= maximum) {
      return static_cast<std::uint64_t>(number);
    }
    return fail(SnpPolicyErrc::ValueOutOfRange, field,
                fmt::format("{} is outside 0-{}", value.dump(), maximum));
  }

  Outcome<bool> boolean(const json& value, std::string_view field) const {
    if (!value.is_boolean()) {
      return fail(SnpPolicyErrc::WrongFieldType, field,
                  fmt::format("expected true or false, got {}", json_type_name(value)));
    }
    return value.get<bool>();
  }

 private:
  std::string_view context_;
};

template <std::size_t N>
bool contains(const std::vector<std::array<std::uint8_t, N>>& allowed,
              const std::array<std::uint8_t, N>& value) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

template <std::size_t N>
std::string list_of(const std::vector<std::array<std::uint8_t, N>>& values) {
  std::string out;
  for (const auto& value : values) {
    out += (out.empty() ? "" : ", ") + to_hex(value);
  }
  return out;
}

std::string_view signer_name(Signer signer) {
  return signer == Signer::Vcek ? "vcek" : "vlek";
}

}  // namespace

const NamedCategory& snp_policy_category() noexcept {
  return kCategory;
}

std::string SnpEvaluation::describe() const {
  std::string out;
  for (const auto& mismatch : mismatches) {
    out += (out.empty() ? "" : "; ") + mismatch.text;
  }
  return out;
}

Outcome<SnpPolicy> SnpPolicy::from_json(const json& document, std::string_view context) {
  const Parser parser(context);
  if (!document.is_object()) {
    return parser.fail(SnpPolicyErrc::NotAnObject, "(policy)",
                       fmt::format("expected an object, got {}", json_type_name(document)));
  }
  SnpPolicy policy;
  for (const auto& [key, value] : document.items()) {
    // Each branch assigns one field; a failure returns at once with the field named.
    const auto assign = [](auto& field, auto parsed) -> std::optional<Failure> {
      if (!parsed) {
        return parsed.error();
      }
      field = std::move(*parsed);
      return std::nullopt;
    };
    std::optional<Failure> error;
    if (key == "measurement") {
      error = assign(policy.measurements, parser.hex_values<48>(value, key));
    } else if (key == "host_data") {
      error = assign(policy.host_data, parser.hex_values<32>(value, key));
    } else if (key == "id_key_digest") {
      error = assign(policy.id_key_digests, parser.hex_values<48>(value, key));
    } else if (key == "author_key_digest") {
      error = assign(policy.author_key_digests, parser.hex_values<48>(value, key));
    } else if (key == "family_id") {
      error = assign(policy.family_ids, parser.hex_values<16>(value, key));
    } else if (key == "image_id") {
      error = assign(policy.image_ids, parser.hex_values<16>(value, key));
    } else if (key == "chip_id") {
      error = assign(policy.chip_ids, parser.hex_values<64>(value, key, 8));
    } else if (key == "product") {
      auto names = parser.strings(value, key);
      if (!names) {
        return names.error();
      }
      for (const auto& name : *names) {
        if (name != "Milan" && name != "Genoa" && name != "Turin") {
          return parser.fail(SnpPolicyErrc::UnknownProduct, key,
                             fmt::format("\"{}\" is not Milan, Genoa or Turin", name));
        }
      }
      policy.products = std::move(*names);
    } else if (key == "signer") {
      auto names = parser.strings(value, key);
      if (!names) {
        return names.error();
      }
      for (const auto& name : *names) {
        if (name == "vcek") {
          policy.signers.push_back(Signer::Vcek);
        } else if (name == "vlek") {
          policy.signers.push_back(Signer::Vlek);
        } else {
          return parser.fail(SnpPolicyErrc::UnknownSigner, key,
                             fmt::format("\"{}\" is not vcek or vlek", name));
        }
      }
    } else if (key == "min_tcb") {
      if (!value.is_object()) {
        return parser.fail(SnpPolicyErrc::WrongFieldType, key,
                           fmt::format("expected an object, got {}", json_type_name(value)));
      }
      for (const auto& [component, level] : value.items()) {
        const std::string field = "min_tcb." + component;
        std::optional<std::uint8_t>* target = nullptr;
        if (component == "bootloader") {
          target = &policy.min_tcb.bootloader;
        } else if (component == "tee") {
          target = &policy.min_tcb.tee;
        } else if (component == "snp") {
          target = &policy.min_tcb.snp;
        } else if (component == "microcode") {
          target = &policy.min_tcb.microcode;
        } else if (component == "fmc") {
          target = &policy.min_tcb.fmc;
        } else {
          return parser.fail(SnpPolicyErrc::UnknownField, field,
                             "use bootloader, tee, snp, microcode or fmc");
        }
        auto number = parser.integer(level, field, 255);
        if (!number) {
          return number.error();
        }
        *target = static_cast<std::uint8_t>(*number);
      }
    } else if (key == "min_guest_svn") {
      auto number = parser.integer(value, key, 0xffffffff);
      if (!number) {
        return number.error();
      }
      policy.min_guest_svn = static_cast<std::uint32_t>(*number);
    } else if (key == "vmpl") {
      const json list = value.is_array() ? value : json::array({value});
      if (list.empty()) {
        return parser.fail(SnpPolicyErrc::EmptyAllowlist, key,
                           "an empty list would accept nothing");
      }
      policy.vmpls.clear();
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto number = parser.integer(
            list[i], value.is_array() ? fmt::format("{}[{}]", key, i) : std::string(key), 3);
        if (!number) {
          return number.error();
        }
        policy.vmpls.push_back(static_cast<std::uint32_t>(*number));
      }
    } else if (key == "allow_debug") {
      error = assign(policy.allow_debug, parser.boolean(value, key));
    } else if (key == "allow_smt") {
      auto flag = parser.boolean(value, key);
      if (!flag) {
        return flag.error();
      }
      policy.allow_smt = *flag;
    } else if (key == "allow_migration_agent") {
      auto flag = parser.boolean(value, key);
      if (!flag) {
        return flag.error();
      }
      policy.allow_migration_agent = *flag;
    } else {
      return parser.fail(SnpPolicyErrc::UnknownField, key,
                         "not an SNP policy field (see src/policy/snp_policy.h)");
    }
    if (error) {
      return *error;
    }
  }
  return policy;
}

SnpEvaluation SnpPolicy::evaluate(const SnpClaims& claims) const {
  SnpEvaluation evaluation;
  const auto mismatch = [&evaluation](SnpPolicyErrc code, std::string field, std::string text) {
    evaluation.mismatches.push_back({make_error_code(code), std::move(field), std::move(text)});
  };
  const auto allowlist = [&mismatch](const auto& allowed, const auto& actual, SnpPolicyErrc code,
                                     std::string_view field) {
    if (!allowed.empty() && !contains(allowed, actual)) {
      mismatch(code, std::string(field),
               fmt::format("{} is {} (expected {}{})", field, to_hex(actual),
                           allowed.size() > 1 ? "one of " : "", list_of(allowed)));
    }
  };

  allowlist(measurements, claims.measurement, SnpPolicyErrc::MeasurementNotAllowed, "measurement");
  allowlist(host_data, claims.host_data, SnpPolicyErrc::HostDataNotAllowed, "host_data");
  allowlist(id_key_digests, claims.id_key_digest, SnpPolicyErrc::IdKeyDigestNotAllowed,
            "id_key_digest");
  allowlist(author_key_digests, claims.author_key_digest, SnpPolicyErrc::AuthorKeyDigestNotAllowed,
            "author_key_digest");
  allowlist(family_ids, claims.family_id, SnpPolicyErrc::FamilyIdNotAllowed, "family_id");
  allowlist(image_ids, claims.image_id, SnpPolicyErrc::ImageIdNotAllowed, "image_id");
  allowlist(chip_ids, claims.chip_id, SnpPolicyErrc::ChipIdNotAllowed, "chip_id");

  if (!products.empty() &&
      std::find(products.begin(), products.end(), claims.product) == products.end()) {
    mismatch(
        SnpPolicyErrc::ProductNotAllowed, "product",
        fmt::format("product is {} (expected {})", claims.product, fmt::join(products, " or ")));
  }
  if (!signers.empty() &&
      std::find(signers.begin(), signers.end(), claims.signer) == signers.end()) {
    mismatch(SnpPolicyErrc::SignerNotAllowed, "signer",
             fmt::format("signer is {}", signer_name(claims.signer)));
  }

  const auto& tcb = claims.reported_tcb;
  const auto minimum = [&mismatch](std::string_view component, std::optional<std::uint8_t> floor,
                                   std::uint8_t actual) {
    if (floor && actual < *floor) {
      mismatch(SnpPolicyErrc::TcbTooLow, fmt::format("min_tcb.{}", component),
               fmt::format("min_tcb.{}: reported {}, minimum {}", component, actual, *floor));
    }
  };
  minimum("bootloader", min_tcb.bootloader, tcb.bootloader);
  minimum("tee", min_tcb.tee, tcb.tee);
  minimum("snp", min_tcb.snp, tcb.snp);
  minimum("microcode", min_tcb.microcode, tcb.microcode);
  if (tcb.fmc) {
    minimum("fmc", min_tcb.fmc, *tcb.fmc);
  }

  if (min_guest_svn && claims.guest_svn < *min_guest_svn) {
    mismatch(SnpPolicyErrc::GuestSvnTooLow, "min_guest_svn",
             fmt::format("guest_svn is {}, minimum {}", claims.guest_svn, *min_guest_svn));
  }
  if (std::find(vmpls.begin(), vmpls.end(), claims.vmpl) == vmpls.end()) {
    mismatch(SnpPolicyErrc::VmplNotAllowed, "vmpl",
             fmt::format("vmpl is {} (allowed: {})", claims.vmpl, fmt::join(vmpls, ", ")));
  }
  if (!allow_debug && (claims.policy & attest::snp::guest_policy::kDebug) != 0) {
    mismatch(SnpPolicyErrc::DebugNotAllowed, "allow_debug",
             fmt::format("guest policy 0x{:x} allows debugging (bit 19); set allow_debug to "
                         "accept it",
                         claims.policy));
  }
  if (allow_smt.has_value() && !*allow_smt &&
      (claims.platform_info & attest::snp::platform_info::kSmtEnabled) != 0) {
    mismatch(
        SnpPolicyErrc::SmtNotAllowed, "allow_smt",
        fmt::format("platform_info 0x{:x} says SMT is enabled on the host", claims.platform_info));
  }
  if (allow_migration_agent.has_value() && !*allow_migration_agent &&
      (claims.policy & attest::snp::guest_policy::kMigrateMa) != 0) {
    mismatch(SnpPolicyErrc::MigrationAgentNotAllowed, "allow_migration_agent",
             fmt::format("guest policy 0x{:x} allows a migration agent (bit 18)", claims.policy));
  }
  return evaluation;
}

}  // namespace atls::policy
