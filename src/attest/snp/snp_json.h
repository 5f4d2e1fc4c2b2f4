#pragma once
// JSON renderings of verified SNP claims (docs/protocol.md §7.4 header JSON and §7.5
// `verify --json`). Pure formatting; no verification happens here.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/snp/snp_claims.h"

namespace atls::attest::snp {

/// The X-Flashbots-Measurement header value for SNP evidence: a compact JSON object (keys in
/// lexicographic order, no spaces) whose values are all lowercase hex strings:
/// byte fields as their bytes ("measurement" 96 hex digits, "host_data" 64, "id_key_digest" 96,
/// "family_id" 32, "image_id" 32, "chip_id" 128) and integers as fixed-width big-endian
/// numbers ("guest_svn" and "vmpl" 8 digits, "policy" and "reported_tcb" 16 digits, e.g.
/// "policy":"0000000000030000", "reported_tcb":"7308000000000003").
std::string measurement_header_json(const SnpClaims& claims);

/// Guest policy bits by name: {"raw":"0x…","abi_major":…,"abi_minor":…,"smt":…,
/// "migrate_ma":…,"debug":…,"single_socket":…,"cxl_allowed":…,"mem_aes_256_xts":…,
/// "rapl_disable":…,"ciphertext_hiding":…,"page_swap_disable":…}.
nlohmann::json guest_policy_json(std::uint64_t policy);

/// A TCB_VERSION: {"raw":"<16 hex digits>","bootloader":…,"tee":…,"snp":…,"microcode":…
/// [,"fmc":…]}.
nlohmann::json tcb_json(const TcbVersion& tcb);

/// The SNP fields of `atls-proxy verify --json`: product, report_version, signer ("vcek" or
/// "vlek"), measurement, host_data, id_key_digest, author_key_digest, family_id, image_id,
/// report_id, chip_id, guest_svn, vmpl, policy (decoded), platform_info (decoded),
/// reported/current/committed/launch TCB (decoded), firmware versions, cpuid (v3+) and
/// mitigation vectors (v5).
nlohmann::json verify_json(const SnpClaims& claims);

}  // namespace atls::attest::snp
