#include "attest/tdx/tcb_info.h"

#include <fmt/format.h>

#include <array>
#include <cstring>

#include "attest/tdx/errors.h"
#include "attest/tdx/x509_util.h"
#include "core/json.h"

namespace atls::attest::tdx {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<TcbStatus, std::string_view>, 9> kStatusNames{{
    {TcbStatus::UpToDate, "UpToDate"},
    {TcbStatus::SwHardeningNeeded, "SWHardeningNeeded"},
    {TcbStatus::ConfigurationNeeded, "ConfigurationNeeded"},
    {TcbStatus::ConfigurationAndSwHardeningNeeded, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::OutOfDate, "OutOfDate"},
    {TcbStatus::OutOfDateConfigurationNeeded, "OutOfDateConfigurationNeeded"},
    {TcbStatus::TdRelaunchAdvised, "TDRelaunchAdvised"},
    {TcbStatus::TdRelaunchAdvisedConfigurationNeeded, "TDRelaunchAdvisedConfigurationNeeded"},
    {TcbStatus::Revoked, "Revoked"},
}};

/// Field access with error reporting: the first failure is kept with the JSON path.
class Fields {
 public:
  explicit Fields(Errc code) : code_(code) {}

  bool failed() const noexcept { return !error_.empty(); }
  Failure failure() const { return Failure{make_error_code(code_), error_}; }
  void fail(const std::string& path, std::string_view what) {
    if (error_.empty()) {
      error_ = path + ": " + std::string(what);
    }
  }

  const json* member(const json& object, const std::string& path, const char* key,
                     bool required = true) {
    if (!object.is_object()) {
      fail(path, "not an object");
      return nullptr;
    }
    const auto it = object.find(key);
    if (it == object.end()) {
      if (required) {
        fail(path + "." + key, "missing");
      }
      return nullptr;
    }
    return &*it;
  }

  std::string string(const json& object, const std::string& path, const char* key) {
    const json* value = member(object, path, key);
    if (value == nullptr) {
      return {};
    }
    if (!value->is_string()) {
      fail(path + "." + key, "not a string");
      return {};
    }
    return value->get<std::string>();
  }

  std::uint64_t number(const json& object, const std::string& path, const char* key,
                       std::uint64_t max) {
    const json* value = member(object, path, key);
    if (value == nullptr) {
      return 0;
    }
    if (!value->is_number_unsigned() || value->get<std::uint64_t>() > max) {
      fail(path + "." + key, "not an integer in 0.." + std::to_string(max));
      return 0;
    }
    return value->get<std::uint64_t>();
  }

  template <std::size_t N>
  std::array<std::uint8_t, N> hex(const json& object, const std::string& path, const char* key) {
    std::array<std::uint8_t, N> out{};
    const std::string text = string(object, path, key);
    if (failed()) {
      return out;
    }
    const auto bytes = from_hex(text);
    if (!bytes || bytes->size() != N) {
      fail(path + "." + key, "not " + std::to_string(N) + " bytes of hex");
      return out;
    }
    std::memcpy(out.data(), bytes->data(), N);
    return out;
  }

  SystemTime date(const json& object, const std::string& path, const char* key) {
    const std::string text = string(object, path, key);
    if (failed()) {
      return {};
    }
    const auto time = parse_rfc3339(text);
    if (!time) {
      fail(path + "." + key, "not an RFC 3339 date");
      return {};
    }
    return *time;
  }

  TcbStatus status(const json& object, const std::string& path) {
    const std::string text = string(object, path, "tcbStatus");
    if (failed()) {
      return TcbStatus::Revoked;
    }
    const auto status = parse_tcb_status(text);
    if (!status) {
      fail(path + ".tcbStatus", "unknown status \"" + text + "\"");
      return TcbStatus::Revoked;
    }
    return *status;
  }

  std::vector<std::string> advisories(const json& object, const std::string& path) {
    std::vector<std::string> out;
    const json* value = member(object, path, "advisoryIDs", /*required=*/false);
    if (value == nullptr) {
      return out;
    }
    if (!value->is_array()) {
      fail(path + ".advisoryIDs", "not an array");
      return out;
    }
    for (const auto& id : *value) {
      if (!id.is_string()) {
        fail(path + ".advisoryIDs", "not an array of strings");
        return out;
      }
      out.push_back(id.get<std::string>());
    }
    return out;
  }

  const json* array(const json& object, const std::string& path, const char* key,
                    bool required = true) {
    const json* value = member(object, path, key, required);
    if (value != nullptr && !value->is_array()) {
      fail(path + "." + key, "not an array");
      return nullptr;
    }
    return value;
  }

  /// `tcbDate` is kept as text but must be a valid date.
  std::string tcb_date(const json& object, const std::string& path) {
    (void)date(object, path, "tcbDate");
    return failed() ? std::string() : object["tcbDate"].get<std::string>();
  }

 private:
  Errc code_;
  std::string error_;
};

/// A 16-entry `[{"svn": n, ...}]` component array (TCB info v3).
std::array<std::uint8_t, 16> components(Fields& f, const json& tcb, const std::string& path,
                                        const char* key) {
  std::array<std::uint8_t, 16> out{};
  const json* list = f.array(tcb, path, key);
  if (list == nullptr) {
    return out;
  }
  // verification.md §1.4 step 1: reject component arrays whose length is not 16.
  if (list->size() != 16) {
    f.fail(path + "." + key, "does not hold 16 components");
    return out;
  }
  for (std::size_t i = 0; i < 16; ++i) {
    out[i] = static_cast<std::uint8_t>(
        f.number((*list)[i], path + "." + key + "[" + std::to_string(i) + "]", "svn", 255));
  }
  return out;
}

Outcome<json> parse_document(std::string_view text, Errc code) {
  auto document = parse_json_strict(text, 16);
  if (!document) {
    return Failure{make_error_code(code), document.error().describe()};
  }
  if (!document->is_object()) {
    return Failure{make_error_code(code), "not a JSON object"};
  }
  return std::move(*document);
}

}  // namespace

std::string_view to_string(TcbStatus status) noexcept {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) {
      return name;
    }
  }
  return "Unknown";
}

std::optional<TcbStatus> parse_tcb_status(std::string_view text) noexcept {
  for (const auto& [value, name] : kStatusNames) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

Outcome<TcbInfo> parse_tcb_info(std::string_view json_text) {
  auto document = parse_document(json_text, Errc::TcbInfoMalformed);
  if (!document) {
    return document.error();
  }
  const json& doc = *document;
  Fields f(Errc::TcbInfoMalformed);
  const std::string root = "tcbInfo";
  TcbInfo info;
  info.version = static_cast<std::uint32_t>(f.number(doc, root, "version", 0xffffffff));
  if (!f.failed() && info.version != 2 && info.version != 3) {
    f.fail(root + ".version", "unsupported TCB info version " + std::to_string(info.version));
  }
  // TCB info v2 is SGX-only and has no id (PCS API v3); v3 carries "SGX" or "TDX".
  if (info.version >= 3) {
    info.id = f.string(doc, root, "id");
  } else if (doc.contains("id")) {
    info.id = f.string(doc, root, "id");
  } else {
    info.id = "SGX";
  }
  info.issue_date = f.date(doc, root, "issueDate");
  info.next_update = f.date(doc, root, "nextUpdate");
  info.fmspc = f.hex<6>(doc, root, "fmspc");
  info.pce_id = f.hex<2>(doc, root, "pceId");
  info.tcb_type = static_cast<std::uint32_t>(f.number(doc, root, "tcbType", 0xffffffff));
  info.tcb_evaluation_data_number =
      static_cast<std::uint32_t>(f.number(doc, root, "tcbEvaluationDataNumber", 0xffffffff));
  const bool tdx = info.id == "TDX";

  const auto read_module = [&](const json& object, const std::string& path) {
    TdxModule module;
    module.mr_signer = f.hex<48>(object, path, "mrsigner");
    module.attributes = f.hex<8>(object, path, "attributes");
    module.attributes_mask = f.hex<8>(object, path, "attributesMask");
    return module;
  };
  if (const json* module = f.member(doc, root, "tdxModule", /*required=*/false)) {
    info.tdx_module = read_module(*module, root + ".tdxModule");
  }
  if (const json* identities = f.array(doc, root, "tdxModuleIdentities", /*required=*/false)) {
    for (std::size_t i = 0; i < identities->size() && !f.failed(); ++i) {
      const std::string path = root + ".tdxModuleIdentities[" + std::to_string(i) + "]";
      const json& entry = (*identities)[i];
      TdxModuleIdentity identity;
      identity.id = f.string(entry, path, "id");
      identity.module = read_module(entry, path);
      const json* levels = f.array(entry, path, "tcbLevels");
      for (std::size_t j = 0; levels != nullptr && j < levels->size() && !f.failed(); ++j) {
        const std::string level_path = path + ".tcbLevels[" + std::to_string(j) + "]";
        const json& level = (*levels)[j];
        TdxModuleTcbLevel out;
        if (const json* tcb = f.member(level, level_path, "tcb")) {
          out.isv_svn =
              static_cast<std::uint8_t>(f.number(*tcb, level_path + ".tcb", "isvsvn", 255));
        }
        out.tcb_date = f.tcb_date(level, level_path);
        out.status = f.status(level, level_path);
        out.advisory_ids = f.advisories(level, level_path);
        identity.tcb_levels.push_back(std::move(out));
      }
      info.tdx_module_identities.push_back(std::move(identity));
    }
  }

  const json* levels = f.array(doc, root, "tcbLevels");
  for (std::size_t i = 0; levels != nullptr && i < levels->size() && !f.failed(); ++i) {
    const std::string path = root + ".tcbLevels[" + std::to_string(i) + "]";
    const json& level = (*levels)[i];
    TcbLevel out;
    const json* tcb = f.member(level, path, "tcb");
    if (tcb != nullptr) {
      const std::string tcb_path = path + ".tcb";
      if (info.version >= 3) {
        out.sgx_components = components(f, *tcb, tcb_path, "sgxtcbcomponents");
        if (tdx) {
          out.tdx_components = components(f, *tcb, tcb_path, "tdxtcbcomponents");
        }
      } else {
        // v2: "sgxtcbcomp01svn" .. "sgxtcbcomp16svn".
        for (std::size_t c = 0; c < 16; ++c) {
          const std::string key = fmt::format("sgxtcbcomp{:02}svn", c + 1);
          out.sgx_components[c] =
              static_cast<std::uint8_t>(f.number(*tcb, tcb_path, key.c_str(), 255));
        }
      }
      out.pce_svn = static_cast<std::uint16_t>(f.number(*tcb, tcb_path, "pcesvn", 0xffff));
    }
    out.tcb_date = f.tcb_date(level, path);
    out.status = f.status(level, path);
    out.advisory_ids = f.advisories(level, path);
    info.tcb_levels.push_back(std::move(out));
  }
  if (!f.failed() && info.tcb_levels.empty()) {
    f.fail(root + ".tcbLevels", "empty");
  }
  if (f.failed()) {
    return f.failure();
  }
  return info;
}

Outcome<QeIdentity> parse_qe_identity(std::string_view json_text) {
  auto document = parse_document(json_text, Errc::QeIdentityMalformed);
  if (!document) {
    return document.error();
  }
  const json& doc = *document;
  Fields f(Errc::QeIdentityMalformed);
  const std::string root = "enclaveIdentity";
  QeIdentity identity;
  identity.id = f.string(doc, root, "id");
  identity.version = static_cast<std::uint32_t>(f.number(doc, root, "version", 0xffffffff));
  if (!f.failed() && identity.version != 2 && identity.version != 3) {
    f.fail(root + ".version",
           "unsupported enclave identity version " + std::to_string(identity.version));
  }
  identity.issue_date = f.date(doc, root, "issueDate");
  identity.next_update = f.date(doc, root, "nextUpdate");
  identity.tcb_evaluation_data_number =
      static_cast<std::uint32_t>(f.number(doc, root, "tcbEvaluationDataNumber", 0xffffffff));
  const auto misc = f.hex<4>(doc, root, "miscselect");
  const auto misc_mask = f.hex<4>(doc, root, "miscselectMask");
  identity.miscselect = (std::uint32_t{misc[0]} << 24) | (std::uint32_t{misc[1]} << 16) |
                        (std::uint32_t{misc[2]} << 8) | misc[3];
  identity.miscselect_mask = (std::uint32_t{misc_mask[0]} << 24) |
                             (std::uint32_t{misc_mask[1]} << 16) |
                             (std::uint32_t{misc_mask[2]} << 8) | misc_mask[3];
  identity.attributes = f.hex<16>(doc, root, "attributes");
  identity.attributes_mask = f.hex<16>(doc, root, "attributesMask");
  identity.mr_signer = f.hex<32>(doc, root, "mrsigner");
  identity.isv_prod_id = static_cast<std::uint16_t>(f.number(doc, root, "isvprodid", 0xffff));
  const json* levels = f.array(doc, root, "tcbLevels");
  for (std::size_t i = 0; levels != nullptr && i < levels->size() && !f.failed(); ++i) {
    const std::string path = root + ".tcbLevels[" + std::to_string(i) + "]";
    const json& level = (*levels)[i];
    QeTcbLevel out;
    if (const json* tcb = f.member(level, path, "tcb")) {
      out.isv_svn = static_cast<std::uint16_t>(f.number(*tcb, path + ".tcb", "isvsvn", 0xffff));
    }
    out.tcb_date = f.tcb_date(level, path);
    out.status = f.status(level, path);
    out.advisory_ids = f.advisories(level, path);
    identity.tcb_levels.push_back(std::move(out));
  }
  if (!f.failed() && identity.tcb_levels.empty()) {
    f.fail(root + ".tcbLevels", "empty");
  }
  if (f.failed()) {
    return f.failure();
  }
  return identity;
}

}  // namespace atls::attest::tdx
