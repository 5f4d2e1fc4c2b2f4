#pragma once
// The VCEK/chain/CRL cache behind the SEV-SNP verifier's CertificateSource (docs/verification.md
// §2.4: "cache VCEKs by (product, hwid, TCB) forever").
//
// Two levels: memory, which is all the verification path ever reads (find_vcek does no I/O
// and never blocks), and an optional directory, loaded into memory by open() at start-up and
// written (atomically: temporary file, fsync, rename) by store_*() on the KDS fetcher's thread.
// Files are named after what they hold, e.g.
//   vcek-Milan-<128 hex hwID>-bl3-tee0-snp8-ucode115.der
//   vcek-Turin-<16 hex hwID>-bl1-tee0-snp3-ucode72-fmc1.der
//   cert_chain-vcek-Genoa.pem    crl-vlek-Milan.der
// and every file is checked against its name when loaded (a VCEK must carry exactly that hwID
// and those SPLs), so a corrupt or misplaced file is ignored (and later refetched), never
// served. The verifier still verifies everything it gets from here.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "attest/snp/report.h"
#include "attest/snp/snp_claims.h"
#include "attest/snp/snp_verifier.h"
#include "core/bytes.h"
#include "core/error.h"

namespace atls::attest::snp {

/// The hwID the KDS expects for `query` (verification.md §2.4): CHIP_ID, 64 bytes; Turin: its
/// first 8 bytes.
Bytes kds_hw_id(const VcekQuery& query);

/// The cache file name of the VCEK for `query` (see the header comment). It is also the
/// in-memory key: one name per (product, hwID, blSPL, teeSPL, snpSPL, ucodeSPL[, fmcSPL]),
/// exactly the components the VCEK is derived from.
std::string vcek_cache_name(const VcekQuery& query);

/// Inverse of vcek_cache_name (nullopt for any other name). `reported_tcb.raw` is re-encoded
/// from the components.
std::optional<VcekQuery> parse_vcek_cache_name(std::string_view name);

/// Checks that `der` is the VCEK for `query`: one DER certificate (certificate_malformed) with
/// AMD extensions (certificate_extension_malformed / _missing) naming the query's product
/// (product_mismatch), hwID (chip_id_mismatch) and SPLs (tcb_mismatch). No signature check:
/// the verifier does that against its anchors.
Result<void> check_vcek_matches(ByteView der, const VcekQuery& query);

/// Checks that `pem` holds exactly two certificates, ASK/ASVK then ARK (certificate_malformed).
Result<std::vector<Bytes>> parse_kds_cert_chain(std::string_view pem);

/// Checks that `der` is exactly one DER CRL with thisUpdate and nextUpdate (parse_amd_crl;
/// crl_malformed). Its signature is checked by the KDS fetcher before it stores a CRL and by the
/// verifier (SnpVerifierOptions::crl_source) when it applies one.
Result<void> check_crl_der(ByteView der);

struct CertificateCacheOptions {
  /// Where cached files live; empty keeps everything in memory only.
  std::filesystem::path directory;
  /// VCEKs kept in memory (oldest dropped first; they stay on disk). At least 1.
  std::size_t max_entries = 4096;
};

struct CertificateCacheStats {
  std::size_t vceks = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t loaded_from_disk = 0;
  std::uint64_t ignored_files = 0;  ///< corrupt or misnamed files skipped by open()
  std::uint64_t disk_write_failures = 0;
};

class CertificateCache final : public CertificateSource, public CrlSource {
 public:
  /// Creates the directory if needed and loads every valid file into memory. Blocking I/O:
  /// call at start-up or on a worker thread. @return certificate_cache_unavailable when the
  /// directory cannot be created or listed.
  static Outcome<std::shared_ptr<CertificateCache>> open(CertificateCacheOptions options = {});

  /// Memory lookup only (no I/O, no blocking beyond a mutex). On a miss, calls the miss handler
  /// (see set_miss_handler) and returns certificate_missing.
  /// @par Thread Safety
  /// Safe to call concurrently.
  Result<Bytes> find_vcek(const VcekQuery& query) const override;

  /// Like find_vcek without counting or notifying.
  std::optional<Bytes> lookup_vcek(const VcekQuery& query) const;

  /// Validates `der` with check_vcek_matches, then stores it in memory and, if configured, on
  /// disk. A disk failure is counted (stats) and logged, not returned: the memory copy serves.
  /// Blocking I/O. Thread-safe.
  Result<void> store_vcek(const VcekQuery& query, const Bytes& der);

  /// The ASK/ASVK and ARK (DER) from `/vcek|vlek/v1/{product}/cert_chain`, if cached.
  std::optional<std::vector<Bytes>> cert_chain(Product product, Signer kind) const;
  Result<void> store_cert_chain(Product product, Signer kind, std::string_view pem);

  /// The CRL from `/vcek|vlek/v1/{product}/crl`, if cached.
  std::optional<Bytes> crl(Product product, Signer kind) const;
  /// Checks `der` with check_crl_der only (the caller vets its signature and dates: the KDS
  /// fetcher does), then stores it in memory and on disk and advances crl_generation() — unless
  /// it is byte-identical to the cached one, which changes nothing. Blocking I/O. Thread-safe.
  Result<void> store_crl(Product product, Signer kind, const Bytes& der);
  /// Every cached CRL, e.g. for SnpVerifierOptions::crls.
  std::vector<Bytes> crls() const;

  /// CrlSource: advanced by every store_crl that changes a CRL (memory only, no I/O).
  std::uint64_t crl_generation() const noexcept override;
  /// CrlSource: the cached CRLs with the (product, family) of their file name.
  CrlSnapshot crl_snapshot() const override;

  /// `handler` is called with the query of every find_vcek miss, on the verifying thread and
  /// outside the cache's lock; it must not block (the KDS fetcher enqueues a background
  /// fetch). Null removes it.
  void set_miss_handler(std::function<void(const VcekQuery&)> handler);

  CertificateCacheStats stats() const;
  const std::filesystem::path& directory() const noexcept { return options_.directory; }

  explicit CertificateCache(CertificateCacheOptions options);

 private:
  void insert_locked(const std::string& name, Bytes der);
  bool write_file(const std::string& name, ByteView content);
  void load();

  CertificateCacheOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Bytes> vceks_;
  std::deque<std::string> order_;  // insertion order, for eviction
  std::map<std::string, std::vector<Bytes>> chains_;
  std::map<std::string, Bytes> crls_;
  std::atomic<std::uint64_t> crl_generation_{0};
  std::shared_ptr<const std::function<void(const VcekQuery&)>> miss_handler_;
  mutable CertificateCacheStats stats_;
};

}  // namespace atls::attest::snp
