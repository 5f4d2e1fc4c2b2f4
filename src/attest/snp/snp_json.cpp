#include "attest/snp/snp_json.h"

#include <fmt/format.h>

#include "core/bytes.h"

namespace atls::attest::snp {
namespace {

using nlohmann::json;

std::string hex32(std::uint32_t value) {
  return fmt::format("{:08x}", value);
}
std::string hex64(std::uint64_t value) {
  return fmt::format("{:016x}", value);
}

std::string version_text(const FirmwareVersion& version) {
  return fmt::format("{}.{}.{}", version.major, version.minor, version.build);
}

json platform_info_json(std::uint64_t info) {
  return json{
      {"raw", "0x" + hex64(info)},
      {"smt_enabled", (info & platform_info::kSmtEnabled) != 0},
      {"tsme_enabled", (info & platform_info::kTsmeEnabled) != 0},
      {"ecc_enabled", (info & platform_info::kEccEnabled) != 0},
      {"rapl_disabled", (info & platform_info::kRaplDisabled) != 0},
      {"ciphertext_hiding_enabled", (info & platform_info::kCiphertextHidingEnabled) != 0},
      {"alias_check_complete", (info & platform_info::kAliasCheckComplete) != 0},
      {"tio_enabled", (info & platform_info::kTioEnabled) != 0},
  };
}

}  // namespace

std::string measurement_header_json(const SnpClaims& claims) {
  const json header{
      {"measurement", to_hex(claims.measurement)},
      {"host_data", to_hex(claims.host_data)},
      {"id_key_digest", to_hex(claims.id_key_digest)},
      {"family_id", to_hex(claims.family_id)},
      {"image_id", to_hex(claims.image_id)},
      {"guest_svn", hex32(claims.guest_svn)},
      {"reported_tcb", hex64(claims.reported_tcb.raw)},
      {"vmpl", hex32(claims.vmpl)},
      {"policy", hex64(claims.policy)},
      {"chip_id", to_hex(claims.chip_id)},
  };
  return header.dump();
}

json guest_policy_json(std::uint64_t policy) {
  using namespace guest_policy;  // NOLINT(google-build-using-namespace): bit names
  return json{
      {"raw", "0x" + hex64(policy)},
      {"abi_major", (policy & kAbiMajorMask) >> 8},
      {"abi_minor", policy & kAbiMinorMask},
      {"smt", (policy & kSmt) != 0},
      {"migrate_ma", (policy & kMigrateMa) != 0},
      {"debug", (policy & kDebug) != 0},
      {"single_socket", (policy & kSingleSocket) != 0},
      {"cxl_allowed", (policy & kCxlAllowed) != 0},
      {"mem_aes_256_xts", (policy & kMemAes256Xts) != 0},
      {"rapl_disable", (policy & kRaplDisable) != 0},
      {"ciphertext_hiding", (policy & kCiphertextHiding) != 0},
      {"page_swap_disable", (policy & kPageSwapDisable) != 0},
  };
}

json tcb_json(const TcbVersion& tcb) {
  json out{
      {"raw", hex64(tcb.raw)}, {"bootloader", tcb.bootloader}, {"tee", tcb.tee},
      {"snp", tcb.snp},        {"microcode", tcb.microcode},
  };
  if (tcb.fmc) {
    out["fmc"] = *tcb.fmc;
  }
  return out;
}

json verify_json(const SnpClaims& claims) {
  json out{
      {"product", claims.product},
      {"report_version", claims.report_version},
      {"signer", claims.signer == Signer::Vcek ? "vcek" : "vlek"},
      {"measurement", to_hex(claims.measurement)},
      {"host_data", to_hex(claims.host_data)},
      {"id_key_digest", to_hex(claims.id_key_digest)},
      {"author_key_digest", to_hex(claims.author_key_digest)},
      {"family_id", to_hex(claims.family_id)},
      {"image_id", to_hex(claims.image_id)},
      {"report_id", to_hex(claims.report_id)},
      {"chip_id", to_hex(claims.chip_id)},
      {"chip_id_masked", claims.mask_chip_key},
      {"author_key_en", claims.author_key_en},
      {"guest_svn", claims.guest_svn},
      {"vmpl", claims.vmpl},
      {"policy", guest_policy_json(claims.policy)},
      {"platform_info", platform_info_json(claims.platform_info)},
      {"reported_tcb", tcb_json(claims.reported_tcb)},
      {"current_tcb", tcb_json(claims.current_tcb)},
      {"committed_tcb", tcb_json(claims.committed_tcb)},
      {"launch_tcb", tcb_json(claims.launch_tcb)},
      {"current_firmware", version_text(claims.current_firmware)},
      {"committed_firmware", version_text(claims.committed_firmware)},
  };
  if (claims.cpuid) {
    out["cpuid"] = json{{"family", claims.cpuid->family},
                        {"model", claims.cpuid->model},
                        {"stepping", claims.cpuid->stepping}};
  }
  if (claims.launch_mit_vector) {
    out["launch_mit_vector"] = "0x" + hex64(*claims.launch_mit_vector);
  }
  if (claims.current_mit_vector) {
    out["current_mit_vector"] = "0x" + hex64(*claims.current_mit_vector);
  }
  return out;
}

}  // namespace atls::attest::snp
