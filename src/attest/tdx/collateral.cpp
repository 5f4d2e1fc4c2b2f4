#include "attest/tdx/collateral.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <map>

#include "attest/tdx/errors.h"
#include "core/digest.h"
#include "core/json.h"

namespace atls::attest::tdx {
namespace {

using nlohmann::json;

Failure malformed(std::string what) {
  return Failure{make_error_code(Errc::CollateralMalformed), std::move(what)};
}

constexpr std::array<const char*, 9> kRequiredKeys{
    "pck_crl_issuer_chain",     "root_ca_crl", "pck_crl",
    "tcb_info_issuer_chain",    "tcb_info",    "tcb_info_signature",
    "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"};
constexpr const char* kOptionalChainKey = "pck_certificate_chain";

/// Builds documents from a flat string map (shared by the JSON and YAML forms).
Outcome<CollateralDocuments> from_fields(const std::map<std::string, std::string>& fields) {
  for (const char* key : kRequiredKeys) {
    if (fields.find(key) == fields.end()) {
      return malformed(std::string("missing key \"") + key + "\"");
    }
  }
  CollateralDocuments out;
  out.pck_crl_issuer_chain = fields.at("pck_crl_issuer_chain");
  out.tcb_info_issuer_chain = fields.at("tcb_info_issuer_chain");
  out.qe_identity_issuer_chain = fields.at("qe_identity_issuer_chain");
  out.tcb_info = fields.at("tcb_info");
  out.qe_identity = fields.at("qe_identity");
  for (auto [key, target] :
       {std::pair{"root_ca_crl", &out.root_ca_crl}, std::pair{"pck_crl", &out.pck_crl}}) {
    auto crl = decode_crl_bytes(as_bytes(fields.at(key)));
    if (!crl) {
      return Failure{crl.error().code, std::string(key) + ": " + crl.error().detail};
    }
    *target = std::move(*crl);
  }
  for (auto [key, target] : {std::pair{"tcb_info_signature", &out.tcb_info_signature},
                             std::pair{"qe_identity_signature", &out.qe_identity_signature}}) {
    auto signature = from_hex(fields.at(key));
    if (!signature || signature->size() != 64) {
      return malformed(std::string(key) + " is not 64 bytes of hex");
    }
    *target = std::move(*signature);
  }
  if (const auto it = fields.find(kOptionalChainKey); it != fields.end()) {
    out.pck_certificate_chain = it->second;
  }
  return out;
}

bool is_known_key(const std::string& key) {
  for (const char* known : kRequiredKeys) {
    if (key == known) {
      return true;
    }
  }
  return key == kOptionalChainKey;
}

// Minimal scanner over an already validated JSON text: returns the raw byte range of values.
class RawScanner {
 public:
  explicit RawScanner(std::string_view text) : text_(text) {}

  void skip_ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  /// Raw characters between the quotes of a string (escapes left as they are).
  bool string(std::string_view& out) {
    skip_ws();
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      return false;
    }
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      pos_ += text_[pos_] == '\\' ? 2 : 1;
    }
    if (pos_ >= text_.size()) {
      return false;
    }
    out = text_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }
  /// Skips one value and returns its exact text.
  bool value(std::string_view& out) {
    skip_ws();
    const std::size_t start = pos_;
    if (pos_ >= text_.size()) {
      return false;
    }
    std::string_view ignored;
    const char first = text_[pos_];
    if (first == '"') {
      if (!string(ignored)) {
        return false;
      }
    } else if (first == '{' || first == '[') {
      std::size_t depth = 0;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {
          if (!string(ignored)) {
            return false;
          }
          continue;
        }
        ++pos_;
        if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          break;
        }
      }
      if (depth != 0) {
        return false;
      }
    } else {
      // number, true, false, null
      while (pos_ < text_.size() &&
             std::string_view(",}] \n\r\t").find(text_[pos_]) == std::string_view::npos) {
        ++pos_;
      }
    }
    if (pos_ == start) {
      return false;
    }
    out = text_.substr(start, pos_ - start);
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

void add_to_digest(std::vector<std::uint8_t>& buffer, ByteView part) {
  const std::uint64_t size = part.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    buffer.push_back(static_cast<std::uint8_t>(size >> shift));
  }
  buffer.insert(buffer.end(), part.begin(), part.end());
}

}  // namespace

Outcome<CollateralDocuments> collateral_from_json(std::string_view text) {
  auto document = parse_json_strict(text, 8);
  if (!document) {
    return malformed(document.error().describe());
  }
  if (!document->is_object()) {
    return malformed("collateral is not a JSON object");
  }
  std::map<std::string, std::string> fields;
  for (const auto& [key, value] : document->items()) {
    if (!is_known_key(key)) {
      continue;  // dcap-qvl may add fields; unknown ones carry nothing we verify
    }
    if (value.is_null() && key == kOptionalChainKey) {
      continue;
    }
    if (!value.is_string()) {
      return malformed("\"" + key + "\" is not a string");
    }
    fields[key] = value.get<std::string>();
  }
  return from_fields(fields);
}

Outcome<CollateralDocuments> collateral_from_yaml(std::string_view text) {
  // yaml-cpp recurses once per nested flow collection; bound the nesting before handing it the
  // text (collateral is a flat mapping of scalars, whose JSON values nest a few levels).
  std::size_t depth = 0;
  for (const char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > 64) {
        return malformed("YAML nesting too deep");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  // yaml-cpp reports errors only through exceptions; they are contained here.
  std::map<std::string, std::string> fields;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) {
      return malformed("collateral YAML is not a mapping");
    }
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (!is_known_key(key)) {
        continue;
      }
      if (!entry.second.IsScalar()) {
        if (entry.second.IsNull() && key == kOptionalChainKey) {
          continue;
        }
        return malformed("\"" + key + "\" is not a scalar");
      }
      if (!fields.emplace(key, entry.second.as<std::string>()).second) {
        return malformed("duplicate key \"" + key + "\"");
      }
    }
  } catch (const YAML::Exception& e) {
    return malformed(std::string("YAML: ") + e.what());
  }
  return from_fields(fields);
}

std::string collateral_to_json(const CollateralDocuments& documents) {
  json out = json::object();
  out["pck_crl_issuer_chain"] = documents.pck_crl_issuer_chain;
  out["root_ca_crl"] = to_hex(documents.root_ca_crl);
  out["pck_crl"] = to_hex(documents.pck_crl);
  out["tcb_info_issuer_chain"] = documents.tcb_info_issuer_chain;
  out["tcb_info"] = documents.tcb_info;
  out["tcb_info_signature"] = to_hex(documents.tcb_info_signature);
  out["qe_identity_issuer_chain"] = documents.qe_identity_issuer_chain;
  out["qe_identity"] = documents.qe_identity;
  out["qe_identity_signature"] = to_hex(documents.qe_identity_signature);
  if (documents.pck_certificate_chain) {
    out["pck_certificate_chain"] = *documents.pck_certificate_chain;
  }
  return out.dump(2);
}

Outcome<SignedJson> split_signed_json(std::string_view body, std::string_view key) {
  // Validate first (syntax, duplicate keys) so the raw scan below sees a well-formed document
  // and no second "<key>" member can hide behind the one we extract.
  auto document = parse_json_strict(body, 16);
  if (!document) {
    return malformed(document.error().describe());
  }
  if (!document->is_object()) {
    return malformed("response body is not a JSON object");
  }
  const auto signature_it = document->find("signature");
  if (signature_it == document->end() || !signature_it->is_string()) {
    return malformed("response body has no string \"signature\"");
  }
  auto signature = from_hex(signature_it->get<std::string>());
  if (!signature || signature->size() != 64) {
    return malformed("\"signature\" is not 64 bytes of hex");
  }
  RawScanner scan(body);
  if (!scan.consume('{')) {
    return malformed("response body is not a JSON object");
  }
  std::optional<std::string_view> found;
  while (!scan.peek('}')) {
    std::string_view name;
    std::string_view value;
    if (!scan.string(name) || !scan.consume(':') || !scan.value(value)) {
      return malformed("cannot delimit the members of the response body");
    }
    if (name == key) {
      found = value;
    }
    if (!scan.consume(',')) {
      break;
    }
  }
  if (!found || found->empty() || found->front() != '{') {
    return malformed("response body has no object \"" + std::string(key) + "\"");
  }
  return SignedJson{std::string(*found), std::move(*signature)};
}

Outcome<std::string> decode_issuer_chain_header(std::string_view value) {
  if (value.find('%') == std::string_view::npos) {
    return std::string(value);
  }
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size() || hex_digit(value[i + 1]) < 0 || hex_digit(value[i + 2]) < 0) {
      return Failure{make_error_code(Errc::CollateralChainMalformed), "bad percent escape"};
    }
    out.push_back(static_cast<char>(hex_digit(value[i + 1]) * 16 + hex_digit(value[i + 2])));
    i += 2;
  }
  return out;
}

Outcome<CollateralDocuments> collateral_from_pcs(const PcsResponses& responses) {
  auto tcb = split_signed_json(responses.tcb_info_body, "tcbInfo");
  if (!tcb) {
    return Failure{tcb.error().code, "TCB info response: " + tcb.error().detail};
  }
  auto qe = split_signed_json(responses.qe_identity_body, "enclaveIdentity");
  if (!qe) {
    return Failure{qe.error().code, "QE identity response: " + qe.error().detail};
  }
  CollateralDocuments out;
  out.tcb_info = std::move(tcb->text);
  out.tcb_info_signature = std::move(tcb->signature);
  out.qe_identity = std::move(qe->text);
  out.qe_identity_signature = std::move(qe->signature);
  for (auto [value, target] :
       {std::pair{&responses.tcb_info_issuer_chain, &out.tcb_info_issuer_chain},
        std::pair{&responses.qe_identity_issuer_chain, &out.qe_identity_issuer_chain},
        std::pair{&responses.pck_crl_issuer_chain, &out.pck_crl_issuer_chain}}) {
    auto chain = decode_issuer_chain_header(*value);
    if (!chain) {
      return chain.error();
    }
    *target = std::move(*chain);
  }
  for (auto [value, target] : {std::pair{&responses.pck_crl, &out.pck_crl},
                               std::pair{&responses.root_ca_crl, &out.root_ca_crl}}) {
    auto crl = decode_crl_bytes(*value);
    if (!crl) {
      return crl.error();
    }
    *target = std::move(*crl);
  }
  return out;
}

Outcome<std::shared_ptr<const Collateral>> Collateral::parse(CollateralDocuments documents) {
  std::shared_ptr<Collateral> out(new Collateral());
  if (documents.tcb_info_signature.size() != 64 || documents.qe_identity_signature.size() != 64) {
    return malformed("signatures must be 64 bytes (raw r||s)");
  }
  const auto chain_error = make_error_code(Errc::CollateralChainMalformed);
  struct ChainSpec {
    const std::string* pem;
    std::vector<tls::X509Ptr>* target;
    const char* name;
  };
  for (const auto& spec :
       {ChainSpec{&documents.pck_crl_issuer_chain, &out->pck_crl_chain_, "PCK CRL issuer chain"},
        ChainSpec{&documents.tcb_info_issuer_chain, &out->tcb_chain_, "TCB info issuer chain"},
        ChainSpec{&documents.qe_identity_issuer_chain, &out->qe_chain_,
                  "QE identity issuer chain"}}) {
    auto chain = parse_pem_chain(*spec.pem, chain_error);
    if (!chain) {
      return Failure{chain_error, std::string(spec.name) + ": " + chain.error().detail};
    }
    *spec.target = std::move(*chain);
  }
  if (documents.pck_certificate_chain) {
    auto chain = parse_pem_chain(*documents.pck_certificate_chain, chain_error);
    if (!chain) {
      return Failure{chain_error, "pck_certificate_chain: " + chain.error().detail};
    }
  }
  auto root_crl = parse_crl_der(documents.root_ca_crl);
  if (!root_crl) {
    return Failure{root_crl.error().code, "root CA CRL: " + root_crl.error().detail};
  }
  auto pck_crl = parse_crl_der(documents.pck_crl);
  if (!pck_crl) {
    return Failure{pck_crl.error().code, "PCK CRL: " + pck_crl.error().detail};
  }
  out->root_crl_ = std::move(*root_crl);
  out->pck_crl_ = std::move(*pck_crl);
  auto tcb_info = parse_tcb_info(documents.tcb_info);
  if (!tcb_info) {
    return tcb_info.error();
  }
  auto qe_identity = parse_qe_identity(documents.qe_identity);
  if (!qe_identity) {
    return qe_identity.error();
  }
  out->tcb_info_ = std::move(*tcb_info);
  out->qe_identity_ = std::move(*qe_identity);

  const std::string issuer = common_name(X509_CRL_get_issuer(out->pck_crl_.get()));
  if (issuer.find("Platform") != std::string::npos) {
    out->ca_type_ = PckCaType::Platform;
  } else if (issuer.find("Processor") != std::string::npos) {
    out->ca_type_ = PckCaType::Processor;
  }

  std::vector<std::uint8_t> buffer;
  for (const ByteView part :
       {as_bytes(documents.pck_crl_issuer_chain), ByteView(documents.root_ca_crl),
        ByteView(documents.pck_crl), as_bytes(documents.tcb_info_issuer_chain),
        as_bytes(documents.tcb_info), ByteView(documents.tcb_info_signature),
        as_bytes(documents.qe_identity_issuer_chain), as_bytes(documents.qe_identity),
        ByteView(documents.qe_identity_signature)}) {
    add_to_digest(buffer, part);
  }
  out->digest_ = sha256(buffer);
  out->documents_ = std::move(documents);
  return std::shared_ptr<const Collateral>(std::move(out));
}

}  // namespace atls::attest::tdx
