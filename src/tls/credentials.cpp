#include "tls/credentials.h"

#include <openssl/pem.h>

#include <fstream>
#include <sstream>

#include "tls/errors.h"

namespace atls::tls {
namespace {

struct PemBlock {
  std::string type;
  std::string headers;
  std::vector<unsigned char> der;
};

// Splits PEM text into blocks. Text outside blocks is ignored, as PEM readers do.
std::vector<PemBlock> read_pem_blocks(std::string_view pem) {
  std::vector<PemBlock> blocks;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return blocks;
  }
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
      ERR_clear_error();  // end of input or a malformed trailing block
      break;
    }
    blocks.push_back(PemBlock{name, header, std::vector<unsigned char>(data, data + length)});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  return blocks;
}

Outcome<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure{make_error_code(Errc::FileUnreadable), path.string()};
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Failure with_file(Failure failure, const std::filesystem::path& path) {
  failure.detail = failure.detail.empty() ? path.string() : path.string() + ": " + failure.detail;
  return failure;
}

}  // namespace

Outcome<std::vector<X509Ptr>> parse_certificates(std::string_view pem) {
  std::vector<X509Ptr> chain;
  std::size_t index = 0;
  for (const auto& block : read_pem_blocks(pem)) {
    if (block.type != "CERTIFICATE") {
      continue;
    }
    const unsigned char* p = block.der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(block.der.size())));
    if (!cert || p != block.der.data() + block.der.size()) {
      return Failure{make_error_code(Errc::InvalidCertificate),
                     "certificate #" + std::to_string(index + 1) + ": " + drain_openssl_errors()};
    }
    chain.push_back(std::move(cert));
    ++index;
  }
  if (chain.empty()) {
    return Failure{make_error_code(Errc::NoCertificate), ""};
  }
  return chain;
}

Outcome<EvpPkeyPtr> parse_private_key(std::string_view pem) {
  for (const auto& block : read_pem_blocks(pem)) {
    int key_type = EVP_PKEY_NONE;
    if (block.type == "PRIVATE KEY") {
      key_type = EVP_PKEY_NONE;  // PKCS#8 carries its own algorithm identifier
    } else if (block.type == "RSA PRIVATE KEY") {
      key_type = EVP_PKEY_RSA;
    } else if (block.type == "EC PRIVATE KEY") {
      key_type = EVP_PKEY_EC;
    } else if (block.type == "ENCRYPTED PRIVATE KEY") {
      return Failure{make_error_code(Errc::EncryptedPrivateKey), ""};
    } else {
      continue;
    }
    if (block.headers.find("ENCRYPTED") != std::string::npos) {
      return Failure{make_error_code(Errc::EncryptedPrivateKey), ""};
    }
    const unsigned char* p = block.der.data();
    const auto length = static_cast<long>(block.der.size());
    EVP_PKEY* key = key_type == EVP_PKEY_NONE ? d2i_AutoPrivateKey(nullptr, &p, length)
                                              : d2i_PrivateKey(key_type, nullptr, &p, length);
    if (key == nullptr) {
      return Failure{make_error_code(Errc::InvalidPrivateKey),
                     block.type + ": " + drain_openssl_errors()};
    }
    return EvpPkeyPtr(key);
  }
  return Failure{make_error_code(Errc::NoPrivateKey), ""};
}

Outcome<std::vector<X509Ptr>> load_certificates(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) {
    return text.error();
  }
  auto chain = parse_certificates(*text);
  if (!chain) {
    return with_file(chain.error(), path);
  }
  return chain;
}

Outcome<EvpPkeyPtr> load_private_key(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) {
    return text.error();
  }
  auto key = parse_private_key(*text);
  if (!key) {
    return with_file(key.error(), path);
  }
  return key;
}

Outcome<Credentials> load_credentials(const std::filesystem::path& certificate_path,
                                      const std::filesystem::path& key_path) {
  auto chain = load_certificates(certificate_path);
  if (!chain) {
    return chain.error();
  }
  auto key = load_private_key(key_path);
  if (!key) {
    return key.error();
  }
  if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return Failure{make_error_code(Errc::KeyCertificateMismatch),
                   key_path.string() + " vs " + certificate_path.string()};
  }
  return Credentials{std::move(*chain), std::move(*key)};
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return {};
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace atls::tls
