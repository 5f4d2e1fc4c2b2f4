#include "attest/tdx/pck_extension.h"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <string>

#include "attest/tdx/errors.h"
#include "attest/tdx/x509_util.h"

namespace atls::attest::tdx {
namespace {

// DER encoding of the arc 1.2.840.113741.1.13.1 (without tag and length).
constexpr std::uint8_t kSgxArc[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

constexpr std::uint8_t kTagBoolean = 0x01;
constexpr std::uint8_t kTagInteger = 0x02;
constexpr std::uint8_t kTagOctetString = 0x04;
constexpr std::uint8_t kTagOid = 0x06;
constexpr std::uint8_t kTagEnumerated = 0x0a;
constexpr std::uint8_t kTagSequence = 0x30;

Failure malformed(std::string what) {
  return Failure{make_error_code(Errc::PckExtensionMalformed), std::move(what)};
}

/// One DER TLV. Only the forms the extension uses are accepted: low tag numbers and definite
/// lengths of at most four length bytes, minimally encoded.
struct Tlv {
  std::uint8_t tag = 0;
  ByteView value;
};

bool read_tlv(ByteView& in, Tlv& out) {
  if (in.size() < 2) {
    return false;
  }
  const std::uint8_t tag = in[0];
  if ((tag & 0x1f) == 0x1f) {
    return false;
  }
  std::size_t length = in[1];
  std::size_t header = 2;
  if (length & 0x80) {
    const std::size_t count = length & 0x7f;
    if (count == 0 || count > 4 || in.size() < 2 + count) {
      return false;
    }
    length = 0;
    for (std::size_t i = 0; i < count; ++i) {
      length = (length << 8) | in[2 + i];
    }
    if (length < 0x80 || (count > 1 && in[2] == 0)) {
      return false;  // not minimal
    }
    header += count;
  }
  if (length > in.size() - header) {
    return false;
  }
  out.tag = tag;
  out.value = in.subspan(header, length);
  in = in.subspan(header + length);
  return true;
}

/// Non-negative DER INTEGER that fits `max`.
bool read_uint(const Tlv& tlv, std::uint8_t tag, std::uint32_t max, std::uint32_t& out) {
  if (tlv.tag != tag || tlv.value.empty() || tlv.value.size() > 5 || (tlv.value[0] & 0x80)) {
    return false;
  }
  if (tlv.value.size() > 1 && tlv.value[0] == 0 && !(tlv.value[1] & 0x80)) {
    return false;  // not minimal
  }
  std::uint64_t value = 0;
  for (const auto byte : tlv.value) {
    value = (value << 8) | byte;
  }
  if (value > max) {
    return false;
  }
  out = static_cast<std::uint32_t>(value);
  return true;
}

template <std::size_t N>
bool read_octets(const Tlv& tlv, std::array<std::uint8_t, N>& out) {
  if (tlv.tag != kTagOctetString || tlv.value.size() != N) {
    return false;
  }
  std::memcpy(out.data(), tlv.value.data(), N);
  return true;
}

bool read_bool(const Tlv& tlv, std::optional<bool>& out) {
  if (tlv.tag != kTagBoolean || tlv.value.size() != 1) {
    return false;
  }
  out = tlv.value[0] != 0;
  return true;
}

/// If `oid` is 1.2.840.113741.1.13.1.<suffix...> with single-byte arcs, returns the suffix.
bool sgx_suffix(const Tlv& oid, ByteView& suffix) {
  if (oid.tag != kTagOid || oid.value.size() <= sizeof(kSgxArc) ||
      std::memcmp(oid.value.data(), kSgxArc, sizeof(kSgxArc)) != 0) {
    return false;
  }
  suffix = oid.value.subspan(sizeof(kSgxArc));
  for (const auto arc : suffix) {
    if (arc & 0x80) {
      return false;  // every arc the profile defines is below 128
    }
  }
  return true;
}

/// Iterates a SEQUENCE OF SEQUENCE { OID, value } and calls `on_entry(suffix, value)`.
template <class F>
bool for_each_entry(ByteView sequence_value, F&& on_entry) {
  ByteView rest = sequence_value;
  while (!rest.empty()) {
    Tlv entry;
    if (!read_tlv(rest, entry) || entry.tag != kTagSequence) {
      return false;
    }
    ByteView inner = entry.value;
    Tlv oid;
    Tlv value;
    ByteView suffix;
    if (!read_tlv(inner, oid) || !sgx_suffix(oid, suffix) || !read_tlv(inner, value) ||
        !inner.empty()) {
      return false;
    }
    if (!on_entry(suffix, value)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(PckCaType type) noexcept {
  return type == PckCaType::Platform ? "platform" : "processor";
}

Outcome<PckExtension> parse_pck_extension_der(ByteView der) {
  ByteView in = der;
  Tlv outer;
  if (!read_tlv(in, outer) || outer.tag != kTagSequence || !in.empty()) {
    return malformed("extension value is not one DER SEQUENCE");
  }
  PckExtension ext;
  // Bit i set = field with OID suffix i seen (duplicates are rejected).
  unsigned seen = 0;
  unsigned tcb_seen = 0;
  std::string error;
  const bool ok = for_each_entry(outer.value, [&](ByteView suffix, const Tlv& value) {
    if (suffix.size() != 1 || suffix[0] == 0 || suffix[0] > 31) {
      return true;  // an extension entry this profile does not define: ignored
    }
    const unsigned field = suffix[0];
    if (seen & (1U << field)) {
      error = "duplicate field ." + std::to_string(field);
      return false;
    }
    seen |= 1U << field;
    std::uint32_t number = 0;
    switch (field) {
      case 1:
        if (!read_octets(value, ext.ppid)) {
          error = "PPID";
          return false;
        }
        return true;
      case 2: {
        if (value.tag != kTagSequence) {
          error = "TCB";
          return false;
        }
        return for_each_entry(value.value, [&](ByteView tcb_suffix, const Tlv& component) {
          if (tcb_suffix.size() != 2 || tcb_suffix[0] != 2 || tcb_suffix[1] == 0 ||
              tcb_suffix[1] > 18) {
            error = "unexpected TCB entry";
            return false;
          }
          const unsigned index = tcb_suffix[1];
          if (tcb_seen & (1U << index)) {
            error = "duplicate TCB entry .2." + std::to_string(index);
            return false;
          }
          tcb_seen |= 1U << index;
          if (index <= 16) {
            if (!read_uint(component, kTagInteger, 255, number)) {
              error = "TCB component " + std::to_string(index);
              return false;
            }
            ext.tcb_components[index - 1] = static_cast<std::uint8_t>(number);
          } else if (index == 17) {
            if (!read_uint(component, kTagInteger, 0xffff, number)) {
              error = "PCESVN";
              return false;
            }
            ext.pce_svn = static_cast<std::uint16_t>(number);
          } else if (!read_octets(component, ext.cpu_svn)) {
            error = "CPUSVN";
            return false;
          }
          return true;
        });
      }
      case 3:
        if (!read_octets(value, ext.pce_id)) {
          error = "PCE-ID";
          return false;
        }
        return true;
      case 4:
        if (!read_octets(value, ext.fmspc)) {
          error = "FMSPC";
          return false;
        }
        return true;
      case 5:
        if (!read_uint(value, kTagEnumerated, 255, number)) {
          error = "SGX type";
          return false;
        }
        ext.sgx_type = static_cast<std::uint8_t>(number);
        return true;
      case 6: {
        std::array<std::uint8_t, 16> id{};
        if (!read_octets(value, id)) {
          error = "platform instance id";
          return false;
        }
        ext.platform_instance_id = id;
        return true;
      }
      case 7: {
        if (value.tag != kTagSequence) {
          error = "configuration";
          return false;
        }
        PckPlatformConfiguration config;
        const bool config_ok =
            for_each_entry(value.value, [&](ByteView config_suffix, const Tlv& flag) {
              if (config_suffix.size() != 2 || config_suffix[0] != 7) {
                return false;
              }
              switch (config_suffix[1]) {
                case 1: return !config.dynamic_platform && read_bool(flag, config.dynamic_platform);
                case 2: return !config.cached_keys && read_bool(flag, config.cached_keys);
                case 3: return !config.smt_enabled && read_bool(flag, config.smt_enabled);
                default: return true;
              }
            });
        if (!config_ok) {
          error = "configuration";
          return false;
        }
        ext.configuration = config;
        return true;
      }
      default: return true;
    }
  });
  if (!ok) {
    return malformed(error.empty() ? "malformed DER" : error);
  }
  // PPID, TCB, PCE-ID, FMSPC and SGX type are mandatory (PCK profile §3.5).
  constexpr unsigned kRequired = (1U << 1) | (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5);
  if ((seen & kRequired) != kRequired) {
    return malformed("a mandatory field (PPID, TCB, PCE-ID, FMSPC, SGX type) is missing");
  }
  constexpr unsigned kAllTcb = 0x7fffeU;  // entries .2.1 - .2.18
  if (tcb_seen != kAllTcb) {
    return malformed("TCB lacks a component, PCESVN or CPUSVN");
  }
  return ext;
}

Outcome<PckExtension> parse_pck_extension(X509* cert) {
  std::unique_ptr<ASN1_OBJECT, tls::OsslDeleter<ASN1_OBJECT_free>> oid(
      OBJ_txt2obj(kSgxExtensionOid, 1));
  if (!oid || cert == nullptr) {
    return Failure{make_error_code(Errc::CryptoFailure), "OBJ_txt2obj"};
  }
  const int index = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (index < 0) {
    return Failure{make_error_code(Errc::PckExtensionMissing)};
  }
  if (X509_get_ext_by_OBJ(cert, oid.get(), index) >= 0) {
    return Failure{make_error_code(Errc::PckExtensionMissing), "extension present twice"};
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
  if (data == nullptr) {
    return malformed("no extension value");
  }
  return parse_pck_extension_der(
      ByteView(ASN1_STRING_get0_data(data), static_cast<std::size_t>(ASN1_STRING_length(data))));
}

std::optional<PckCaType> pck_ca_type_from_issuer(X509* pck_leaf) {
  const std::string cn = common_name(X509_get_issuer_name(pck_leaf));
  const bool platform = cn.find("Platform") != std::string::npos;
  const bool processor = cn.find("Processor") != std::string::npos;
  if (platform == processor) {
    return std::nullopt;
  }
  return platform ? PckCaType::Platform : PckCaType::Processor;
}

}  // namespace atls::attest::tdx
