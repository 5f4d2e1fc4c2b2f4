#include "policy/measurement_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/json.h"
#include "policy/errors.h"

namespace atls::policy {
namespace {

using attest::AttestationType;
using attest::Family;
using nlohmann::json;

constexpr unsigned kDcapRegisterCount = 5;  // MRTD, RTMR0..3
constexpr unsigned kAzurePcrCount = 24;     // PCR0..23
constexpr std::size_t kDcapRegisterSize = 48;
constexpr std::size_t kAzurePcrSize = 32;

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<unsigned> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 3) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

// Builds errors that name the source, the record and the field.
class ErrorContext {
 public:
  explicit ErrorContext(std::string_view source) : source_(source) {}
  void set_record(std::size_t position, std::string id) {
    position_ = position;
    id_ = std::move(id);
  }
  /// "source: record N (\"id\")" — the prefix of every detail.
  std::string location() const {
    std::string out(source_);
    if (position_ != 0) {
      out += fmt::format(": record {}", position_);
      if (!id_.empty()) {
        out += fmt::format(" (\"{}\")", id_);
      }
    }
    return out;
  }
  Failure fail(Errc code, std::string_view field, std::string_view what = {}) const {
    std::string detail = location();
    if (!field.empty()) {
      detail += fmt::format(": field {}", field);
    }
    if (!what.empty()) {
      detail += fmt::format(": {}", what);
    }
    return Failure{make_error_code(code), std::move(detail)};
  }

 private:
  std::string_view source_;
  std::size_t position_ = 0;
  std::string id_;
};

// Register keys (§6.2): decimal indices at every revision; names "mrtd"/"rtmr0".."rtmr3"
// (DCAP) and "pcrN" (Azure), case-insensitive, from the branch tip on.
Outcome<unsigned> parse_register_key(Family family, std::string_view key,
                                     const ErrorContext& context) {
  const std::string field = fmt::format("measurements.{}", key);
  const std::string lower = lowercase(key);
  std::optional<unsigned> index = parse_decimal(lower);
  bool named = false;
  if (!index && family == Family::Dcap) {
    if (lower == "mrtd") {
      index = 0;
    } else if (lower.starts_with("rtmr")) {
      index = parse_decimal(std::string_view(lower).substr(4));
      if (index) {
        *index += 1;
      }
    }
    named = index.has_value();
  } else if (!index && family == Family::Azure && lower.starts_with("pcr")) {
    index = parse_decimal(std::string_view(lower).substr(3));
    named = index.has_value();
  }
  if (!index) {
    return context.fail(
        Errc::BadRegisterKey, field,
        family == Family::Dcap ? "use 0-4 or mrtd, rtmr0..rtmr3" : "use 0-23 or pcr0..pcr23");
  }
  const unsigned limit = family == Family::Dcap ? kDcapRegisterCount : kAzurePcrCount;
  if (*index >= limit) {
    return context.fail(Errc::BadRegisterIndex, field,
                        named ? "no such register" : fmt::format("index must be < {}", limit));
  }
  return *index;
}

Outcome<Bytes> parse_register_value(const json& value, std::size_t expected_size,
                                    const std::string& field, const ErrorContext& context) {
  if (!value.is_string()) {
    return context.fail(Errc::WrongFieldType, field,
                        fmt::format("expected a hex string, got {}", value.type_name()));
  }
  const auto& text = value.get_ref<const std::string&>();
  auto bytes = from_hex(text);
  if (!bytes) {
    return context.fail(Errc::BadHex, field,
                        text.starts_with("0x") ? "hex without a 0x prefix expected"
                                               : "not an even-length hex string");
  }
  if (bytes->size() != expected_size) {
    return context.fail(Errc::BadLength, field,
                        fmt::format("{} bytes, expected {}", bytes->size(), expected_size));
  }
  return std::move(*bytes);
}

Outcome<RegisterRule> parse_register(Family family, const std::string& key, const json& entry,
                                     const ErrorContext& context) {
  auto index = parse_register_key(family, key, context);
  if (!index) {
    return index.error();
  }
  const std::string field = "measurements." + key;
  if (!entry.is_object()) {
    return context.fail(Errc::WrongFieldType, field,
                        fmt::format("expected an object, got {}", entry.type_name()));
  }
  for (const auto& [name, unused] : entry.items()) {
    if (name != "expected" && name != "expected_any") {
      return context.fail(Errc::UnknownField, fmt::format("{}.{}", field, name));
    }
  }
  const bool has_expected = entry.contains("expected");
  const bool has_any = entry.contains("expected_any");
  if (has_expected && has_any) {
    return context.fail(Errc::BothExpectedAndExpectedAny, field);
  }
  if (!has_expected && !has_any) {
    return context.fail(Errc::NoExpectedValue, field);
  }
  const std::size_t size = family == Family::Dcap ? kDcapRegisterSize : kAzurePcrSize;
  RegisterRule rule;
  rule.index = *index;
  if (has_expected) {
    auto value = parse_register_value(entry.at("expected"), size, field + ".expected", context);
    if (!value) {
      return value.error();
    }
    rule.accepted.push_back(std::move(*value));
    return rule;
  }
  const json& any = entry.at("expected_any");
  if (!any.is_array()) {
    return context.fail(Errc::WrongFieldType, field + ".expected_any",
                        fmt::format("expected an array, got {}", any.type_name()));
  }
  if (any.empty()) {
    return context.fail(Errc::EmptyExpectedAny, field + ".expected_any");
  }
  for (std::size_t i = 0; i < any.size(); ++i) {
    auto value =
        parse_register_value(any[i], size, fmt::format("{}.expected_any[{}]", field, i), context);
    if (!value) {
      return value.error();
    }
    rule.accepted.push_back(std::move(*value));
  }
  return rule;
}

Outcome<PolicyRecord> parse_record(const json& node, std::size_t position, ErrorContext& context) {
  context.set_record(position, {});
  if (!node.is_object()) {
    return context.fail(Errc::RecordNotObject, "", fmt::format("got {}", node.type_name()));
  }
  PolicyRecord record;
  record.position = position;
  if (const auto it = node.find("measurement_id"); it != node.end() && !it->is_null()) {
    if (!it->is_string()) {
      return context.fail(Errc::WrongFieldType, "measurement_id",
                          fmt::format("expected a string, got {}", it->type_name()));
    }
    record.measurement_id = it->get<std::string>();
    context.set_record(position, record.measurement_id);
  }
  for (const auto& [name, unused] : node.items()) {
    if (name == "kind" || name == "dcap_image_hashes") {
      // flashbots main-branch forms (portable GCP policies, `attest measure` output). A pinned
      // flashbots proxy ignores these fields and accepts any measurements; refuse instead.
      return context.fail(Errc::UnsupportedRecordForm, name,
                          "image-hash and `kind` records are not supported; list registers "
                          "under \"measurements\"");
    }
    if (name != "measurement_id" && name != "attestation_type" && name != "measurements" &&
        name != "snp") {
      return context.fail(Errc::UnknownField, name);
    }
  }
  const auto type_it = node.find("attestation_type");
  if (type_it == node.end()) {
    return context.fail(Errc::MissingAttestationType, "attestation_type");
  }
  if (!type_it->is_string()) {
    return context.fail(Errc::WrongFieldType, "attestation_type",
                        fmt::format("expected a string, got {}", type_it->type_name()));
  }
  const auto type = attest::parse_attestation_type(type_it->get<std::string>());
  if (!type) {
    return context.fail(Errc::UnknownAttestationType, "attestation_type",
                        fmt::format("\"{}\"", type_it->get<std::string>()));
  }
  record.type = *type;
  const Family family = attest::family_of(*type);

  const auto snp_it = node.find("snp");
  if (family == Family::Snp) {
    // SEV-SNP records constrain named report fields (policy/snp_policy.h); without an "snp"
    // object the secure defaults apply (debug forbidden, VMPL 0).
    auto snp =
        SnpPolicy::from_json(snp_it == node.end() ? json::object() : *snp_it, context.location());
    if (!snp) {
      return snp.error();
    }
    record.snp = std::move(*snp);
  } else if (snp_it != node.end()) {
    return context.fail(Errc::UnsupportedRecordForm, "snp",
                        "only sev-snp and gcp-snp records take SEV-SNP rules");
  }

  const auto measurements_it = node.find("measurements");
  if (measurements_it == node.end() || measurements_it->is_null()) {
    return record;
  }
  if (!measurements_it->is_object()) {
    return context.fail(Errc::WrongFieldType, "measurements",
                        fmt::format("expected an object, got {}", measurements_it->type_name()));
  }
  if (family == Family::None) {
    if (!measurements_it->empty()) {
      return context.fail(Errc::MeasurementsOnNoneRecord, "measurements");
    }
    return record;
  }
  if (family == Family::Snp && !measurements_it->empty()) {
    // SNP reports have no numbered registers; their constraints are named fields.
    return context.fail(Errc::UnsupportedRecordForm, "measurements",
                        "SEV-SNP records constrain named report fields, not registers");
  }
  for (const auto& [key, entry] : measurements_it->items()) {
    auto rule = parse_register(family, key, entry, context);
    if (!rule) {
      return rule.error();
    }
    const bool duplicate =
        std::any_of(record.rules.begin(), record.rules.end(),
                    [&](const RegisterRule& r) { return r.index == rule->index; });
    if (duplicate) {
      return context.fail(
          Errc::DuplicateRegister, "measurements." + key,
          fmt::format("register {} is already listed", register_name(family, rule->index)));
    }
    record.rules.push_back(std::move(*rule));
  }
  std::sort(record.rules.begin(), record.rules.end(),
            [](const RegisterRule& a, const RegisterRule& b) { return a.index < b.index; });
  return record;
}

std::string short_hex(ByteView value) {
  const std::string hex = to_hex(value);
  return hex.size() > 16 ? hex.substr(0, 16) + "…" : hex;
}

}  // namespace

std::string register_name(Family family, unsigned index) {
  if (family == Family::Dcap) {
    return index == 0 ? "mrtd" : fmt::format("rtmr{}", index - 1);
  }
  if (family == Family::Azure) {
    return fmt::format("pcr{}", index);
  }
  return fmt::format("register{}", index);
}

std::string PolicyRecord::label() const {
  if (measurement_id.empty()) {
    return fmt::format("record {}", position);
  }
  return fmt::format("record {} (\"{}\")", position, measurement_id);
}

Outcome<MeasurementPolicy> MeasurementPolicy::parse(std::string_view json_text,
                                                    std::string_view source) {
  ErrorContext context(source);
  auto document = parse_json_strict(json_text);
  if (!document) {
    Failure failure = document.error();
    failure.detail = std::string(source) + ": " + failure.detail;
    return failure;
  }
  // A single record object is accepted in place of an array (flashbots main, §6.2).
  json records = document->is_object() ? json::array({*document}) : std::move(*document);
  if (!records.is_array()) {
    return context.fail(Errc::NotAListOfRecords, "", fmt::format("got {}", records.type_name()));
  }
  if (records.empty()) {
    return context.fail(Errc::EmptyPolicy, "");
  }
  MeasurementPolicy policy;
  policy.source_ = std::string(source);
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto record = parse_record(records[i], i + 1, context);
    if (!record) {
      return record.error();
    }
    policy.records_.push_back(std::move(*record));
  }
  return policy;
}

Outcome<MeasurementPolicy> MeasurementPolicy::from_allowed_type(std::string_view type) {
  const std::string lower = lowercase(type);
  MeasurementPolicy policy;
  policy.source_ = "--allowed-remote-attestation-type " + lower;
  auto add = [&policy](AttestationType t) {
    PolicyRecord record;
    record.position = policy.records_.size() + 1;
    record.type = t;
    policy.records_.push_back(std::move(record));
  };
  if (lower == "tdx") {
    add(AttestationType::DcapTdx);
    add(AttestationType::AzureTdx);
    return policy;
  }
  const auto parsed = attest::parse_attestation_type(lower);
  if (!parsed) {
    return Failure{
        make_error_code(Errc::InvalidAllowedType),
        fmt::format("\"{}\": use none, tdx, dcap-tdx, gcp-tdx, qemu-tdx or azure-tdx", type)};
  }
  add(*parsed);
  if (attest::family_of(*parsed) == Family::Snp) {
    policy.records_.back().snp = SnpPolicy{};  // any measurement, secure defaults
  }
  return policy;
}

bool MeasurementPolicy::accepts_none() const noexcept {
  return has_family(Family::None);
}

bool MeasurementPolicy::has_family(Family family) const noexcept {
  return std::any_of(records_.begin(), records_.end(), [family](const PolicyRecord& r) {
    return attest::family_of(r.type) == family;
  });
}

Evaluation MeasurementPolicy::evaluate(const attest::VerifiedClaims& claims) const {
  Evaluation evaluation;
  const Family family = attest::family_of(claims.type);
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const PolicyRecord& record = records_[i];
    // The record's type only selects the family: a dcap-tdx record accepts gcp-tdx and
    // qemu-tdx quotes (§6.4).
    if (attest::family_of(record.type) != family) {
      continue;
    }
    RecordMismatch mismatch{i, {}, {}};
    if (record.snp) {
      if (!claims.snp) {
        continue;  // an SNP record never accepts claims without SNP fields
      }
      auto snp = record.snp->evaluate(*claims.snp);
      if (snp.accepted()) {
        evaluation.matched = i;
        evaluation.mismatches.clear();
        return evaluation;
      }
      mismatch.snp = std::move(snp.mismatches);
      evaluation.mismatches.push_back(std::move(mismatch));
      continue;
    }
    for (const auto& rule : record.rules) {
      const auto it = claims.measurements.find(rule.index);
      if (it == claims.measurements.end()) {
        mismatch.registers.push_back({rule.index, std::nullopt});
        continue;
      }
      const bool accepted = std::any_of(rule.accepted.begin(), rule.accepted.end(),
                                        [&](const Bytes& value) { return value == it->second; });
      if (!accepted) {
        mismatch.registers.push_back({rule.index, it->second});
      }
    }
    if (mismatch.registers.empty()) {
      evaluation.matched = i;
      evaluation.mismatches.clear();
      return evaluation;
    }
    evaluation.mismatches.push_back(std::move(mismatch));
  }
  return evaluation;
}

std::string MeasurementPolicy::describe(const Evaluation& evaluation,
                                        const attest::VerifiedClaims& claims) const {
  const Family family = attest::family_of(claims.type);
  if (evaluation.matched) {
    return "accepted by " + records_[*evaluation.matched].label();
  }
  if (evaluation.mismatches.empty()) {
    return fmt::format("no record accepts attestation type {}", attest::to_string(claims.type));
  }
  std::string out;
  for (const auto& mismatch : evaluation.mismatches) {
    const PolicyRecord& record = records_[mismatch.record_index];
    if (!out.empty()) {
      out += "; ";
    }
    out += record.label() + ":";
    bool first = true;
    for (const auto& snp : mismatch.snp) {
      out += fmt::format("{} {}", first ? "" : ",", snp.text);
      first = false;
    }
    for (const auto& reg : mismatch.registers) {
      const auto rule = std::find_if(record.rules.begin(), record.rules.end(),
                                     [&](const RegisterRule& r) { return r.index == reg.index; });
      std::string expected;
      for (const auto& value : rule->accepted) {
        expected += (expected.empty() ? "" : " | ") + short_hex(value);
      }
      out += fmt::format("{} {} is {} (expected {})", first ? "" : ",",
                         register_name(family, reg.index),
                         reg.actual ? short_hex(*reg.actual) : std::string("absent"), expected);
      first = false;
    }
  }
  return out;
}

}  // namespace atls::policy
