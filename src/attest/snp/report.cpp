#include "attest/snp/report.h"

#include <algorithm>

#include "attest/snp/errors.h"
#include "attest/snp/little_endian.h"

namespace atls::attest::snp {
namespace {

using detail::all_zero;
using detail::load_le32;
using detail::load_le64;

// Field offsets, SEV-SNP ABI spec table "ATTESTATION_REPORT Structure" (verification.md §2.1).
constexpr std::size_t kVersion = 0x000;
constexpr std::size_t kGuestSvn = 0x004;
constexpr std::size_t kPolicy = 0x008;
constexpr std::size_t kFamilyId = 0x010;
constexpr std::size_t kImageId = 0x020;
constexpr std::size_t kVmpl = 0x030;
constexpr std::size_t kSignatureAlgo = 0x034;
constexpr std::size_t kCurrentTcb = 0x038;
constexpr std::size_t kPlatformInfo = 0x040;
constexpr std::size_t kFlags = 0x048;
constexpr std::size_t kReserved0 = 0x04C;
constexpr std::size_t kReportData = 0x050;
constexpr std::size_t kMeasurement = 0x090;
constexpr std::size_t kHostData = 0x0C0;
constexpr std::size_t kIdKeyDigest = 0x0E0;
constexpr std::size_t kAuthorKeyDigest = 0x110;
constexpr std::size_t kReportId = 0x140;
constexpr std::size_t kReportIdMa = 0x160;
constexpr std::size_t kReportedTcb = 0x180;
constexpr std::size_t kCpuidFamily = 0x188;  // v3+: family, model, stepping bytes
constexpr std::size_t kReserved1End = 0x1A0;
constexpr std::size_t kChipId = 0x1A0;
constexpr std::size_t kCommittedTcb = 0x1E0;
constexpr std::size_t kCurrentVersion = 0x1E8;    // build, minor, major, reserved
constexpr std::size_t kCommittedVersion = 0x1EC;  // build, minor, major, reserved
constexpr std::size_t kLaunchTcb = 0x1F0;
constexpr std::size_t kLaunchMitVector = 0x1F8;   // v5
constexpr std::size_t kCurrentMitVector = 0x200;  // v5
constexpr std::size_t kReserved3 = 0x208;
constexpr std::size_t kSignature = 0x2A0;

constexpr std::uint32_t kSignatureAlgoEcdsaP384Sha384 = 1;

// Flags (offset 0x48): bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 2–4 SIGNING_KEY
// (0 VCEK, 1 VLEK, 2–6 reserved, 7 none), bits 5–31 reserved.
constexpr std::uint32_t kFlagAuthorKeyEn = 1U << 0;
constexpr std::uint32_t kFlagMaskChipKey = 1U << 1;
constexpr unsigned kSigningKeyShift = 2;
constexpr std::uint32_t kSigningKeyMask = 7;
constexpr std::uint32_t kFlagsReservedMask = ~((1U << 5) - 1);

template <std::size_t N>
std::array<std::uint8_t, N> copy_field(ByteView data, std::size_t offset) noexcept {
  std::array<std::uint8_t, N> out{};
  std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), N, out.begin());
  return out;
}

bool zero_range(ByteView data, std::size_t begin, std::size_t end) noexcept {
  return all_zero(data.subspan(begin, end - begin));
}

FirmwareVersion firmware_at(ByteView data, std::size_t offset) noexcept {
  FirmwareVersion version;
  version.build = data[offset];
  version.minor = data[offset + 1];
  version.major = data[offset + 2];
  return version;
}

}  // namespace

std::string_view to_string(Product product) noexcept {
  switch (product) {
    case Product::Milan: return "Milan";
    case Product::Genoa: return "Genoa";
    case Product::Turin: return "Turin";
  }
  return "unknown";
}

std::optional<Product> parse_product_name(std::string_view name) noexcept {
  // VCEKs carry "<product>-<stepping>" ("Milan-B0"); VLEKs and KDS URLs the bare product.
  const auto dash = name.find('-');
  if (dash != std::string_view::npos) {
    if (dash + 1 == name.size()) {
      return std::nullopt;
    }
    name = name.substr(0, dash);
  }
  if (name == "Milan") {
    return Product::Milan;
  }
  if (name == "Genoa") {
    return Product::Genoa;
  }
  if (name == "Turin") {
    return Product::Turin;
  }
  return std::nullopt;
}

Result<Product> product_from_cpuid(const Cpuid& cpuid) noexcept {
  if (cpuid.family == 0x19) {
    if (cpuid.model <= 0x0F) {
      return Product::Milan;
    }
    if ((cpuid.model >= 0x10 && cpuid.model <= 0x1F) ||
        (cpuid.model >= 0xA0 && cpuid.model <= 0xAF)) {
      return Product::Genoa;
    }
  } else if (cpuid.family == 0x1A && cpuid.model <= 0x11) {
    return Product::Turin;
  }
  return make_error_code(Errc::UnknownProduct);
}

bool has_fmc(Product product) noexcept {
  return product == Product::Turin;
}

TcbVersion decode_tcb(std::uint64_t raw, Product product) noexcept {
  const auto byte = [raw](unsigned index) { return static_cast<std::uint8_t>(raw >> (8 * index)); };
  TcbVersion tcb;
  tcb.raw = raw;
  if (has_fmc(product)) {
    tcb.fmc = byte(0);
    tcb.bootloader = byte(1);
    tcb.tee = byte(2);
    tcb.snp = byte(3);
  } else {
    tcb.bootloader = byte(0);
    tcb.tee = byte(1);
    tcb.snp = byte(6);
  }
  tcb.microcode = byte(7);
  return tcb;
}

std::uint64_t encode_tcb(const TcbVersion& tcb, Product product) noexcept {
  const auto at = [](std::uint8_t value, unsigned index) {
    return static_cast<std::uint64_t>(value) << (8 * index);
  };
  if (has_fmc(product)) {
    return at(tcb.fmc.value_or(0), 0) | at(tcb.bootloader, 1) | at(tcb.tee, 2) | at(tcb.snp, 3) |
           at(tcb.microcode, 7);
  }
  return at(tcb.bootloader, 0) | at(tcb.tee, 1) | at(tcb.snp, 6) | at(tcb.microcode, 7);
}

Result<Report> parse_report(ByteView data) {
  if (data.size() < kReportSize) {
    return make_error_code(Errc::ReportTruncated);
  }
  if (data.size() > kReportSize) {
    return make_error_code(Errc::ReportTrailingBytes);
  }

  Report report;
  std::copy(data.begin(), data.end(), report.bytes.begin());
  SnpClaims& claims = report.claims;

  claims.report_version = load_le32(data, kVersion);
  if (claims.report_version < 2 || claims.report_version > 5) {
    return make_error_code(Errc::UnsupportedReportVersion);
  }
  if (load_le32(data, kSignatureAlgo) != kSignatureAlgoEcdsaP384Sha384) {
    return make_error_code(Errc::UnsupportedSignatureAlgorithm);
  }

  claims.guest_svn = load_le32(data, kGuestSvn);
  claims.policy = load_le64(data, kPolicy);
  // ABI spec "Guest Policy Structure": bit 17 is reserved and must be one, 26–63 must be zero.
  if ((claims.policy & guest_policy::kReservedMustBeOne) == 0 ||
      (claims.policy & guest_policy::kMustBeZero) != 0) {
    return make_error_code(Errc::InvalidGuestPolicy);
  }

  const std::uint32_t flags = load_le32(data, kFlags);
  const std::uint32_t signing_key = (flags >> kSigningKeyShift) & kSigningKeyMask;
  if (signing_key == 7) {
    return make_error_code(Errc::ReportNotSigned);
  }
  if (signing_key > 1) {
    return make_error_code(Errc::InvalidSigningKey);
  }
  claims.signer = signing_key == 0 ? Signer::Vcek : Signer::Vlek;
  claims.author_key_en = (flags & kFlagAuthorKeyEn) != 0;
  claims.mask_chip_key = (flags & kFlagMaskChipKey) != 0;

  // Reserved ranges. v2 has no CPUID bytes; v3/v4 have no mitigation vectors; v4's contents of
  // 0x1F8–0x207 are not public (AMD embargo at the time of writing), so they are neither
  // checked nor exposed, as in go-sev-guest (which reads them as mitigation vectors).
  const bool has_cpuid = claims.report_version >= 3;
  const std::size_t reserved1_begin = has_cpuid ? kCpuidFamily + 3 : kCpuidFamily;
  std::size_t reserved3_begin = kLaunchMitVector;
  if (claims.report_version >= 4) {
    reserved3_begin = kReserved3;
  }
  if ((flags & kFlagsReservedMask) != 0 || !zero_range(data, kReserved0, kReportData) ||
      !zero_range(data, reserved1_begin, kReserved1End) || data[kCurrentVersion + 3] != 0 ||
      data[kCommittedVersion + 3] != 0 || !zero_range(data, reserved3_begin, kSignature) ||
      !zero_range(data, kSignature + 2 * kSignatureComponentSize, kReportSize)) {
    return make_error_code(Errc::ReportReservedNonzero);
  }

  // ABI spec: with MASK_CHIP_KEY the firmware writes zeros to CHIP_ID.
  if (claims.mask_chip_key && !zero_range(data, kChipId, kChipId + 64)) {
    return make_error_code(Errc::ReportReservedNonzero);
  }

  if (has_cpuid) {
    Cpuid cpuid;
    cpuid.family = data[kCpuidFamily];
    cpuid.model = data[kCpuidFamily + 1];
    cpuid.stepping = data[kCpuidFamily + 2];
    auto product = product_from_cpuid(cpuid);
    if (!product) {
      return product.error();
    }
    claims.cpuid = cpuid;
    report.cpuid_product = *product;
  }

  claims.family_id = copy_field<16>(data, kFamilyId);
  claims.image_id = copy_field<16>(data, kImageId);
  claims.vmpl = load_le32(data, kVmpl);
  claims.current_tcb.raw = load_le64(data, kCurrentTcb);
  claims.platform_info = load_le64(data, kPlatformInfo);
  report.report_data = copy_field<64>(data, kReportData);
  claims.measurement = copy_field<48>(data, kMeasurement);
  claims.host_data = copy_field<32>(data, kHostData);
  claims.id_key_digest = copy_field<48>(data, kIdKeyDigest);
  claims.author_key_digest = copy_field<48>(data, kAuthorKeyDigest);
  claims.report_id = copy_field<32>(data, kReportId);
  claims.report_id_ma = copy_field<32>(data, kReportIdMa);
  claims.reported_tcb.raw = load_le64(data, kReportedTcb);
  claims.chip_id = copy_field<64>(data, kChipId);
  claims.committed_tcb.raw = load_le64(data, kCommittedTcb);
  claims.current_firmware = firmware_at(data, kCurrentVersion);
  claims.committed_firmware = firmware_at(data, kCommittedVersion);
  claims.launch_tcb.raw = load_le64(data, kLaunchTcb);
  if (claims.report_version >= 5) {
    claims.launch_mit_vector = load_le64(data, kLaunchMitVector);
    claims.current_mit_vector = load_le64(data, kCurrentMitVector);
  }
  report.signature_r = copy_field<kSignatureComponentSize>(data, kSignature);
  report.signature_s =
      copy_field<kSignatureComponentSize>(data, kSignature + kSignatureComponentSize);
  return report;
}

void apply_product(Report& report, Product product) noexcept {
  SnpClaims& claims = report.claims;
  claims.product = std::string(to_string(product));
  claims.current_tcb = decode_tcb(claims.current_tcb.raw, product);
  claims.reported_tcb = decode_tcb(claims.reported_tcb.raw, product);
  claims.committed_tcb = decode_tcb(claims.committed_tcb.raw, product);
  claims.launch_tcb = decode_tcb(claims.launch_tcb.raw, product);
}

}  // namespace atls::attest::snp
