#include "attest/snp/certificate_cache.h"

#include <fcntl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <random>
#include <system_error>

#include "attest/snp/amd_certificate.h"
#include "attest/snp/crl.h"
#include "attest/snp/errors.h"

namespace atls::attest::snp {
namespace {

constexpr std::string_view kVcekPrefix = "vcek-";
constexpr std::string_view kChainPrefix = "cert_chain-";
constexpr std::string_view kCrlPrefix = "crl-";
constexpr std::string_view kTempPrefix = ".tmp-";
// Cached files are certificates, two-certificate chains and CRLs: a few KiB each.
constexpr std::uintmax_t kMaxFileSize = std::uintmax_t{1024} * 1024;

constexpr Product kProducts[] = {Product::Milan, Product::Genoa, Product::Turin};
constexpr Signer kFamilies[] = {Signer::Vcek, Signer::Vlek};

std::string chain_name(Product product, Signer kind) {
  return std::string(kChainPrefix) + crl_family(kind) + "-" + std::string(to_string(product)) +
         ".pem";
}

std::string crl_name(Product product, Signer kind) {
  return std::string(kCrlPrefix) + crl_family(kind) + "-" + std::string(to_string(product)) +
         ".der";
}

std::optional<Bytes> read_small_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxFileSize) {
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) {
    return std::nullopt;
  }
  return data;
}

// Decimal 0..255 without leading zeros (the canonical form vcek_cache_name writes).
std::optional<std::uint8_t> parse_spl(std::string_view text, std::string_view label) {
  if (!text.starts_with(label)) {
    return std::nullopt;
  }
  text.remove_prefix(label.size());
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 255) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(value);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

std::string random_suffix() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto value = random();
  return to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(&value), sizeof(value)));
}

}  // namespace

Bytes kds_hw_id(const VcekQuery& query) {
  const std::size_t size = query.product == Product::Turin ? 8 : query.chip_id.size();
  return Bytes(query.chip_id.begin(), query.chip_id.begin() + static_cast<std::ptrdiff_t>(size));
}

std::string vcek_cache_name(const VcekQuery& query) {
  const TcbVersion& tcb = query.reported_tcb;
  std::string name = std::string(kVcekPrefix) + std::string(to_string(query.product)) + "-" +
                     to_hex(kds_hw_id(query)) + "-bl" + std::to_string(tcb.bootloader) + "-tee" +
                     std::to_string(tcb.tee) + "-snp" + std::to_string(tcb.snp) + "-ucode" +
                     std::to_string(tcb.microcode);
  if (has_fmc(query.product)) {
    name += "-fmc" + std::to_string(tcb.fmc.value_or(0));
  }
  return name + ".der";
}

std::optional<VcekQuery> parse_vcek_cache_name(std::string_view name) {
  if (!name.starts_with(kVcekPrefix) || !name.ends_with(".der")) {
    return std::nullopt;
  }
  name.remove_suffix(4);
  const auto parts = split(name, '-');
  if (parts.size() != 7 && parts.size() != 8) {
    return std::nullopt;
  }
  const auto product = parse_product_name(parts[1]);
  if (!product || to_string(*product) != parts[1] || (parts.size() == 8) != has_fmc(*product)) {
    return std::nullopt;
  }
  const auto hw_id = from_hex(parts[2]);
  const std::size_t hw_id_size = *product == Product::Turin ? 8 : 64;
  if (!hw_id || hw_id->size() != hw_id_size) {
    return std::nullopt;
  }
  VcekQuery query;
  query.product = *product;
  std::copy(hw_id->begin(), hw_id->end(), query.chip_id.begin());
  const auto bl = parse_spl(parts[3], "bl");
  const auto tee = parse_spl(parts[4], "tee");
  const auto snp = parse_spl(parts[5], "snp");
  const auto ucode = parse_spl(parts[6], "ucode");
  if (!bl || !tee || !snp || !ucode) {
    return std::nullopt;
  }
  TcbVersion tcb;
  tcb.bootloader = *bl;
  tcb.tee = *tee;
  tcb.snp = *snp;
  tcb.microcode = *ucode;
  if (parts.size() == 8) {
    const auto fmc = parse_spl(parts[7], "fmc");
    if (!fmc) {
      return std::nullopt;
    }
    tcb.fmc = *fmc;
  }
  query.reported_tcb = decode_tcb(encode_tcb(tcb, *product), *product);
  // Exactly one spelling per query (upper-case hex, for one, is not ours).
  if (vcek_cache_name(query) != std::string(name) + ".der") {
    return std::nullopt;
  }
  return query;
}

Result<void> check_vcek_matches(ByteView der, const VcekQuery& query) {
  auto cert = parse_certificate_der(der);
  if (!cert) {
    return cert.error();
  }
  auto extensions = parse_amd_extensions(cert->get());
  if (!extensions) {
    return extensions.error();
  }
  if (!extensions->product_name) {
    return make_error_code(Errc::CertificateExtensionMissing);
  }
  const auto product = parse_product_name(*extensions->product_name);
  if (!product || *product != query.product) {
    return make_error_code(Errc::ProductMismatch);
  }
  if (!extensions->hw_id) {
    return make_error_code(Errc::CertificateExtensionMissing);
  }
  if (*extensions->hw_id != kds_hw_id(query)) {
    return make_error_code(Errc::ChipIdMismatch);
  }
  const TcbVersion& tcb = query.reported_tcb;
  const std::pair<const std::optional<std::uint8_t>*, std::uint8_t> spls[] = {
      {&extensions->bl_spl, tcb.bootloader},
      {&extensions->tee_spl, tcb.tee},
      {&extensions->snp_spl, tcb.snp},
      {&extensions->ucode_spl, tcb.microcode},
  };
  for (const auto& [present, expected] : spls) {
    if (!*present) {
      return make_error_code(Errc::CertificateExtensionMissing);
    }
    if (**present != expected) {
      return make_error_code(Errc::TcbMismatch);
    }
  }
  if (has_fmc(query.product)) {
    if (!extensions->fmc_spl) {
      return make_error_code(Errc::CertificateExtensionMissing);
    }
    if (*extensions->fmc_spl != tcb.fmc.value_or(0)) {
      return make_error_code(Errc::TcbMismatch);
    }
  }
  return {};
}

Result<std::vector<Bytes>> parse_kds_cert_chain(std::string_view pem) {
  auto certs = parse_certificates_pem(pem);
  if (!certs) {
    return certs.error();
  }
  if (certs->size() != 2) {
    return make_error_code(Errc::CertificateMalformed);
  }
  std::vector<Bytes> der;
  for (const auto& cert : *certs) {
    der.push_back(certificate_der(cert.get()));
    if (der.back().empty()) {
      return make_error_code(Errc::CertificateMalformed);
    }
  }
  return der;
}

Result<void> check_crl_der(ByteView der) {
  if (auto crl = parse_amd_crl(der); !crl) {
    return crl.error().code;
  }
  return {};
}

CertificateCache::CertificateCache(CertificateCacheOptions options) : options_(std::move(options)) {
  options_.max_entries = std::max<std::size_t>(1, options_.max_entries);
}

Outcome<std::shared_ptr<CertificateCache>> CertificateCache::open(CertificateCacheOptions options) {
  auto cache = std::make_shared<CertificateCache>(std::move(options));
  if (!cache->options_.directory.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cache->options_.directory, ec);
    if (ec || !std::filesystem::is_directory(cache->options_.directory, ec)) {
      return Failure{make_error_code(Errc::CertificateCacheUnavailable),
                     cache->options_.directory.string() + ": " + ec.message()};
    }
    cache->load();
  }
  return cache;
}

void CertificateCache::load() {
  std::error_code ec;
  std::lock_guard lock(mutex_);
  for (const auto& file : std::filesystem::directory_iterator(options_.directory, ec)) {
    std::error_code type_ec;
    if (!file.is_regular_file(type_ec)) {
      continue;
    }
    const std::string name = file.path().filename().string();
    if (name.starts_with(kTempPrefix)) {
      // Left by a writer that died before its rename.
      std::filesystem::remove(file.path(), type_ec);
      continue;
    }
    const bool ours = name.starts_with(kVcekPrefix) || name.starts_with(kChainPrefix) ||
                      name.starts_with(kCrlPrefix);
    if (!ours) {
      continue;
    }
    const auto data = read_small_file(file.path());
    bool loaded = false;
    if (data) {
      if (const auto query = parse_vcek_cache_name(name)) {
        if (check_vcek_matches(*data, *query)) {
          insert_locked(name, *data);
          loaded = true;
        }
      } else {
        for (const Product product : kProducts) {
          for (const Signer kind : kFamilies) {
            if (name == crl_name(product, kind) && check_crl_der(*data)) {
              crls_[name] = *data;
              loaded = true;
            } else if (name == chain_name(product, kind)) {
              auto chain = parse_kds_cert_chain(
                  std::string_view(reinterpret_cast<const char*>(data->data()), data->size()));
              if (chain) {
                chains_[name] = std::move(*chain);
                loaded = true;
              }
            }
          }
        }
      }
    }
    if (loaded) {
      ++stats_.loaded_from_disk;
    } else {
      ++stats_.ignored_files;
      spdlog::warn("certificate cache: ignoring {} (unreadable, corrupt or misnamed)",
                   file.path().string());
    }
  }
}

void CertificateCache::insert_locked(const std::string& name, Bytes der) {
  auto [it, inserted] = vceks_.insert_or_assign(name, std::move(der));
  if (!inserted) {
    return;
  }
  order_.push_back(name);
  while (vceks_.size() > options_.max_entries && !order_.empty()) {
    vceks_.erase(order_.front());
    order_.pop_front();
  }
}

bool CertificateCache::write_file(const std::string& name, ByteView content) {
  if (options_.directory.empty()) {
    return true;
  }
  const auto target = options_.directory / name;
  const auto temp = options_.directory / (std::string(kTempPrefix) + name + "-" + random_suffix());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return false;
  }
  bool ok = true;
  for (std::size_t done = 0; ok && done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  // fsync before rename: after a crash the name points at complete content or at the old file.
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  ok = ok && ::rename(temp.c_str(), target.c_str()) == 0;
  if (!ok) {
    ::unlink(temp.c_str());
    return false;
  }
  const int dir = ::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

Result<Bytes> CertificateCache::find_vcek(const VcekQuery& query) const {
  const std::string name = vcek_cache_name(query);
  std::shared_ptr<const std::function<void(const VcekQuery&)>> handler;
  {
    std::lock_guard lock(mutex_);
    const auto found = vceks_.find(name);
    if (found != vceks_.end()) {
      ++stats_.hits;
      return found->second;
    }
    ++stats_.misses;
    handler = miss_handler_;
  }
  if (handler && *handler) {
    (*handler)(query);
  }
  return make_error_code(Errc::CertificateMissing);
}

std::optional<Bytes> CertificateCache::lookup_vcek(const VcekQuery& query) const {
  std::lock_guard lock(mutex_);
  const auto found = vceks_.find(vcek_cache_name(query));
  if (found == vceks_.end()) {
    return std::nullopt;
  }
  return found->second;
}

Result<void> CertificateCache::store_vcek(const VcekQuery& query, const Bytes& der) {
  if (auto checked = check_vcek_matches(der, query); !checked) {
    return checked.error();
  }
  const std::string name = vcek_cache_name(query);
  {
    std::lock_guard lock(mutex_);
    insert_locked(name, der);
  }
  if (!write_file(name, der)) {
    spdlog::warn("certificate cache: could not write {}", (options_.directory / name).string());
    std::lock_guard lock(mutex_);
    ++stats_.disk_write_failures;
  }
  return {};
}

std::optional<std::vector<Bytes>> CertificateCache::cert_chain(Product product, Signer kind) const {
  std::lock_guard lock(mutex_);
  const auto found = chains_.find(chain_name(product, kind));
  if (found == chains_.end()) {
    return std::nullopt;
  }
  return found->second;
}

Result<void> CertificateCache::store_cert_chain(Product product, Signer kind,
                                                std::string_view pem) {
  auto chain = parse_kds_cert_chain(pem);
  if (!chain) {
    return chain.error();
  }
  const std::string name = chain_name(product, kind);
  {
    std::lock_guard lock(mutex_);
    chains_[name] = std::move(*chain);
  }
  if (!write_file(name, as_bytes(pem))) {
    std::lock_guard lock(mutex_);
    ++stats_.disk_write_failures;
  }
  return {};
}

std::optional<Bytes> CertificateCache::crl(Product product, Signer kind) const {
  std::lock_guard lock(mutex_);
  const auto found = crls_.find(crl_name(product, kind));
  if (found == crls_.end()) {
    return std::nullopt;
  }
  return found->second;
}

Result<void> CertificateCache::store_crl(Product product, Signer kind, const Bytes& der) {
  if (auto checked = check_crl_der(der); !checked) {
    return checked.error();
  }
  const std::string name = crl_name(product, kind);
  {
    std::lock_guard lock(mutex_);
    auto& cached = crls_[name];
    if (cached == der) {
      return {};  // the same CRL again: nothing changes, verifiers keep their parsed copy
    }
    cached = der;
    // Under the lock, so that crl_snapshot() pairs a generation with exactly its CRLs.
    crl_generation_.fetch_add(1, std::memory_order_release);
  }
  if (!write_file(name, der)) {
    std::lock_guard lock(mutex_);
    ++stats_.disk_write_failures;
  }
  return {};
}

std::vector<Bytes> CertificateCache::crls() const {
  std::lock_guard lock(mutex_);
  std::vector<Bytes> out;
  for (const auto& [name, der] : crls_) {
    out.push_back(der);
  }
  return out;
}

std::uint64_t CertificateCache::crl_generation() const noexcept {
  return crl_generation_.load(std::memory_order_acquire);
}

CrlSnapshot CertificateCache::crl_snapshot() const {
  std::lock_guard lock(mutex_);
  CrlSnapshot snapshot;
  snapshot.generation = crl_generation_.load(std::memory_order_acquire);
  for (const Product product : kProducts) {
    for (const Signer kind : kFamilies) {
      if (const auto found = crls_.find(crl_name(product, kind)); found != crls_.end()) {
        snapshot.crls.push_back({product, kind, found->second});
      }
    }
  }
  return snapshot;
}

void CertificateCache::set_miss_handler(std::function<void(const VcekQuery&)> handler) {
  auto shared =
      handler ? std::make_shared<const std::function<void(const VcekQuery&)>>(std::move(handler))
              : nullptr;
  std::lock_guard lock(mutex_);
  miss_handler_ = std::move(shared);
}

CertificateCacheStats CertificateCache::stats() const {
  std::lock_guard lock(mutex_);
  CertificateCacheStats out = stats_;
  out.vceks = vceks_.size();
  return out;
}

}  // namespace atls::attest::snp
