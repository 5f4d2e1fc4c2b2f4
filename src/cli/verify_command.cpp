// `atls-proxy verify`: offline verification of one piece of evidence at a chosen instant, with
// optional policy, for operators and tests. A stable contract:
//
//   atls-proxy verify --attestation-type TYPE --evidence FILE [--certs FILE]...
//       [--collateral FILE]... [--at RFC3339] [--report-data HEX] [--measurements-file FILE]
//       [--accept-tcb-status LIST] [--json]
//
// Exit 0 only when the evidence verifies and passes the policy; 4 when it does not; 2 for
// usage errors. --json prints one object: verified, attestation_type, tcb_status,
// advisory_ids, measurements, report_data, errors (named codes), plus type-specific fields.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/evidence.h"
#include "attest/snp/snp_json.h"
#include "attest/snp/snp_verifier.h"
#include "attest/tdx/tdx_verifier.h"
#include "cli/commands.h"
#include "core/time.h"
#include "policy/loader.h"
#include "ratls/errors.h"

namespace atls::cli {
namespace {

using nlohmann::json;

struct VerifyOptions {
  std::string type;
  std::string evidence;
  std::vector<std::string> certs;
  std::optional<std::string> at;
  std::optional<std::string> report_data;
  std::optional<std::string> measurements_file;
  bool json_output = false;
};

Outcome<Bytes> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure{make_error_code(boost::system::errc::no_such_file_or_directory), path};
  }
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Certificates from --certs files (DER, or PEM with several blocks), placed in the certificate
// table under the GUID their role implies.
Outcome<attest::snp::CertTable> read_snp_certificates(const std::vector<std::string>& files) {
  namespace snp = attest::snp;
  snp::CertTable table;
  for (const auto& file : files) {
    auto content = read_file_bytes(file);
    if (!content) {
      return content.error();
    }
    std::vector<tls::X509Ptr> certs;
    const std::string_view text(reinterpret_cast<const char*>(content->data()), content->size());
    if (text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
      auto parsed = snp::parse_certificates_pem(text);
      if (!parsed) {
        return Failure{parsed.error(), file};
      }
      certs = std::move(*parsed);
    } else {
      auto parsed = snp::parse_certificate_der(*content);
      if (!parsed) {
        return Failure{parsed.error(), file};
      }
      certs.push_back(std::move(*parsed));
    }
    for (const auto& cert : certs) {
      const bool self_signed =
          X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0;
      auto extensions = snp::parse_amd_extensions(cert.get());
      snp::Guid guid = snp::guids::ask();
      if (self_signed) {
        guid = snp::guids::ark();
      } else if (extensions && extensions->hw_id) {
        guid = snp::guids::vcek();
      } else if (extensions && (extensions->csp_id || extensions->product_name) &&
                 X509_check_ca(cert.get()) == 0) {
        guid = snp::guids::vlek();
      }
      if (table.find(guid) == nullptr) {
        table.entries.push_back({guid, snp::certificate_der(cert.get())});
      }
    }
  }
  return table;
}

struct Verified {
  Outcome<attest::VerifiedClaims> claims = Failure{};
  json extra = json::object();
};

Verified verify_snp(const VerifyOptions& options, const attest::snp::SnpVerifier& verifier,
                    ByteView evidence, const std::optional<attest::ReportData>& expected,
                    SystemTime now, attest::AttestationType type) {
  namespace snp = attest::snp;
  Verified out;
  Bytes report;
  snp::CertTable table;
  if (evidence.size() >= 4 &&
      std::equal(snp::kEvidenceMagic.begin(), snp::kEvidenceMagic.end(), evidence.begin())) {
    auto decoded = snp::decode_evidence(evidence);
    if (!decoded) {
      out.claims = Failure{decoded.error(), "evidence container"};
      return out;
    }
    report = std::move(decoded->report);
    table = std::move(decoded->certificates);
  } else {
    report.assign(evidence.begin(), evidence.end());
  }
  auto extra_certs = read_snp_certificates(options.certs);
  if (!extra_certs) {
    out.claims = extra_certs.error();
    return out;
  }
  for (auto& entry : extra_certs->entries) {
    if (table.find(entry.guid) == nullptr) {
      table.entries.push_back(std::move(entry));
    }
  }
  auto verified = verifier.verify_report(report, table, expected, now);
  if (!verified) {
    out.claims = verified.error();
    return out;
  }
  attest::VerifiedClaims claims;
  claims.type = type;
  claims.report_data = verified->report_data;
  claims.snp = verified->claims;
  out.extra = snp::verify_json(verified->claims);
  out.claims = std::move(claims);
  return out;
}

Verified verify_tdx(const attest::tdx::TdxVerifier& verifier, ByteView evidence,
                    std::optional<attest::ReportData> expected, SystemTime now,
                    attest::AttestationType type) {
  Verified out;
  if (!expected) {
    // Without --report-data the binding is the caller's to check: compare against the quote's
    // own REPORTDATA (printed in the output) so every other check still runs.
    auto prepared = verifier.quote_verifier()->prepare(evidence);
    if (!prepared) {
      out.claims = prepared.error();
      return out;
    }
    expected = prepared->quote.body.report_data;
  }
  auto verified = verifier.verify_detailed(type, evidence, *expected, now);
  if (!verified) {
    out.claims = verified.error();
    return out;
  }
  const auto& tdx = verified->claims;
  out.extra["fmspc"] = to_hex(tdx.fmspc);
  out.extra["platform_tcb_status"] = tdx.platform_tcb_status;
  out.extra["qe_tcb_status"] = tdx.qe_tcb_status;
  out.extra["tdx_module_tcb_status"] = tdx.tdx_module_tcb_status;
  out.extra["tcb_date"] = tdx.tcb_date;
  out.extra["quote_version"] = tdx.quote_version;
  out.extra["tee_tcb_svn"] = to_hex(tdx.tee_tcb_svn);
  out.extra["td_attributes"] = fmt::format("{:016x}", tdx.td_attributes);
  out.extra["mr_config_id"] = to_hex(tdx.mr_config_id);
  out.extra["mr_owner"] = to_hex(tdx.mr_owner);
  out.extra["mr_owner_config"] = to_hex(tdx.mr_owner_config);
  out.claims = attest::tdx::TdxVerifier::to_claims(type, *verified);
  return out;
}

int run_verify(const GlobalOptions& global, const VerifyOptions& options) {
  const auto type = attest::parse_attestation_type(options.type);
  if (!type || *type == attest::AttestationType::None) {
    spdlog::error("--attestation-type: unknown or none: {}", options.type);
    return kExitUsage;
  }
  SystemTime now = std::chrono::system_clock::now();
  if (options.at) {
    auto parsed = parse_rfc3339(*options.at);
    if (!parsed) {
      spdlog::error("--at: not an RFC 3339 time or Unix seconds: {}", *options.at);
      return kExitUsage;
    }
    now = *parsed;
  }
  std::optional<attest::ReportData> expected;
  if (options.report_data) {
    std::string_view hex = *options.report_data;
    if (hex.starts_with("0x")) {
      hex.remove_prefix(2);
    }
    auto bytes = from_hex(hex);
    if (!bytes || bytes->size() != 64) {
      spdlog::error("--report-data: expected 128 hex characters (64 bytes)");
      return kExitUsage;
    }
    expected.emplace();
    std::copy(bytes->begin(), bytes->end(), expected->begin());
  }
  auto content = read_file_bytes(options.evidence);
  if (!content) {
    spdlog::error("--evidence: cannot read {}", options.evidence);
    return kExitUsage;
  }
  const Bytes evidence = decode_evidence_text(*content);
  std::optional<policy::MeasurementPolicy> measurement_policy;
  if (options.measurements_file) {
    auto loaded = policy::load_measurement_policy(*options.measurements_file);
    if (!loaded) {
      spdlog::error("{}", loaded.error().describe());
      return kExitUsage;
    }
    measurement_policy = std::move(*loaded);
  }
  auto sources = open_verification_sources(global);
  if (!sources) {
    spdlog::error("{}", sources.error().describe());
    return kExitUsage;
  }
  auto verifiers = (*sources)->make_verifiers(global);
  if (!verifiers) {
    spdlog::error("{}", verifiers.error().describe());
    return kExitUsage;
  }

  // nullopt: a usage error (already logged).
  const auto verify_once = [&]() -> std::optional<Verified> {
    Verified out;
    if (attest::family_of(*type) == attest::Family::Snp) {
      std::shared_ptr<const attest::snp::SnpVerifier> snp;
      for (const auto& v : *verifiers) {
        if (auto candidate = std::dynamic_pointer_cast<const attest::snp::SnpVerifier>(v)) {
          snp = candidate;
        }
      }
      if (!snp) {
        spdlog::error("no SEV-SNP verifier is configured");
        return std::nullopt;
      }
      out = verify_snp(options, *snp, evidence, expected, now, *type);
    } else if (attest::family_of(*type) == attest::Family::Dcap) {
      std::shared_ptr<const attest::tdx::TdxVerifier> tdx;
      for (const auto& v : *verifiers) {
        if (auto candidate = std::dynamic_pointer_cast<const attest::tdx::TdxVerifier>(v)) {
          tdx = candidate;
        }
      }
      if (!tdx) {
        spdlog::error("no TDX verifier is configured");
        return std::nullopt;
      }
      out = verify_tdx(*tdx, evidence, expected, now, *type);
    } else {
      const attest::Verifier* verifier = nullptr;
      for (const auto& v : *verifiers) {
        if (v->handles(*type)) {
          verifier = v.get();
        }
      }
      if (verifier == nullptr) {
        out.claims = Failure{make_error_code(ratls::Errc::AttestationTypeNotSupported),
                             std::string(attest::to_string(*type)) +
                                 " evidence cannot be verified by this build yet"};
      } else if (!expected) {
        spdlog::error("--report-data is required for {} evidence", options.type);
        return std::nullopt;
      } else {
        auto claims = verifier->verify(*type, evidence, *expected, now);
        out.claims = claims ? Outcome<attest::VerifiedClaims>(std::move(*claims))
                            : Outcome<attest::VerifiedClaims>(Failure{claims.error()});
      }
    }
    return out;
  };
  auto verified = verify_once();
  if (verified && !verified->claims && (*sources)->is_transient(verified->claims.error().code)) {
    // With the collateral service or the KDS cache, the miss scheduled a fetch: wait for it
    // (bounded by --handshake-timeout) and verify again.
    spdlog::info("{}; waiting for the background fetch", verified->claims.error().describe());
    (*sources)->wait_for_fetches(global.step_timeout());
    verified = verify_once();
  }
  if (!verified) {
    return kExitUsage;
  }
  Verified result = std::move(*verified);

  json out = json::object();
  json errors = json::array();
  bool accepted = false;
  std::string matched_record;
  if (result.claims) {
    const auto& claims = *result.claims;
    accepted = true;
    policy::TcbStatusPolicy tcb_policy = policy::TcbStatusPolicy::defaults();
    if (!global.accept_tcb_status.empty()) {
      auto parsed = policy::TcbStatusPolicy::parse(global.accept_tcb_status);
      if (!parsed) {
        spdlog::error("{}", parsed.error().describe());
        return kExitUsage;
      }
      tcb_policy = std::move(*parsed);
    }
    if (!tcb_policy.accepts(claims.tcb_status)) {
      accepted = false;
      errors.push_back(error_id(make_error_code(ratls::Errc::TcbStatusNotAccepted)));
      out["policy_detail"] = "TCB status " + claims.tcb_status +
                             " not accepted (accepted: " + tcb_policy.describe() + ")";
    }
    if (measurement_policy) {
      const auto evaluation = measurement_policy->evaluate(claims);
      if (evaluation.matched) {
        matched_record = measurement_policy->records()[*evaluation.matched].label();
      } else {
        // (reported in addition to a TCB status rejection, if any)
        accepted = false;
        errors.push_back(error_id(make_error_code(ratls::Errc::MeasurementsNotAccepted)));
        for (const auto& mismatch : evaluation.mismatches) {
          for (const auto& snp : mismatch.snp) {
            errors.push_back(error_id(snp.code));
          }
        }
        out["policy_detail"] = measurement_policy->describe(evaluation, claims);
      }
    }
    out["tcb_status"] = claims.tcb_status;
    out["advisory_ids"] = claims.advisory_ids;
    json measurements = json::object();
    const char* names[] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    for (const auto& [index, value] : claims.measurements) {
      const std::string key = attest::family_of(*type) == attest::Family::Dcap && index < 5
                                  ? names[index]
                                  : std::to_string(index);
      measurements[key] = to_hex(value);
    }
    out["measurements"] = measurements;
    out["report_data"] = to_hex(claims.report_data);
  } else {
    errors.push_back(error_id(result.claims.error().code));
    out["error_detail"] = result.claims.error().describe();
    out["tcb_status"] = "";
    out["advisory_ids"] = json::array();
    out["measurements"] = json::object();
    out["report_data"] = "";
  }
  for (auto& [key, value] : result.extra.items()) {
    out[key] = value;
  }
  out["verified"] = accepted;
  out["attestation_type"] = attest::to_string(*type);
  out["verified_at"] = format_rfc3339(now);
  out["errors"] = errors;
  if (!matched_record.empty()) {
    out["matched_record"] = matched_record;
  }
  if (options.json_output) {
    std::cout << out.dump(2) << std::endl;
  } else if (accepted) {
    std::cout << "verified: " << attest::to_string(*type) << " evidence is genuine at "
              << format_rfc3339(now)
              << (matched_record.empty() ? "" : " and accepted by " + matched_record) << "\n";
  } else {
    std::cout << "NOT verified: "
              << (result.claims ? out.value("policy_detail", std::string("policy rejected"))
                                : result.claims.error().describe())
              << "\n";
  }
  return accepted ? kExitOk : kExitAttestation;
}

}  // namespace

void add_verify_command(CLI::App& app, GlobalOptions& global, std::function<int()>& action) {
  auto options = std::make_shared<VerifyOptions>();
  auto* command = app.add_subcommand(
      "verify", "Verify one piece of evidence offline (at a chosen time, with optional policy)");
  command->add_option("--attestation-type", options->type, "dcap-tdx, sev-snp, ...")->required();
  command
      ->add_option("--evidence", options->evidence,
                   "Evidence file: raw binary, hex (optional 0x) or base64")
      ->required();
  command->add_option("--certs", options->certs,
                      "SEV-SNP: certificate files (DER or PEM, several per file)");
  command->add_option("--at", options->at, "Verify at this instant (RFC 3339 or Unix seconds)");
  command->add_option("--report-data", options->report_data,
                      "Expected 64-byte report data (128 hex characters)");
  command->add_option("--measurements-file", options->measurements_file,
                      "Policy to apply after verification");
  command->add_flag("--json", options->json_output, "Print one JSON object");
  command->callback([&global, &action, options] {
    action = [&global, options] { return run_verify(global, *options); };
  });
}

}  // namespace atls::cli
