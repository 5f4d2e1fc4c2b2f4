#include "attest/snp/trust_anchors.h"

#include "attest/snp/amd_certificate.h"
#include "attest/snp/amd_roots.h"
#include "attest/snp/errors.h"
#include "core/digest.h"

namespace atls::attest::snp {
namespace {

// docs/verification.md §2.2.
constexpr PinnedFingerprint kFingerprints[] = {
    {Product::Milan, "ARK", "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"},
    {Product::Milan, "ASK", "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b"},
    {Product::Milan, "ASVK", "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5"},
    {Product::Genoa, "ARK", "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1"},
    {Product::Genoa, "ASK", "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521"},
    {Product::Genoa, "ASVK", "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372"},
    {Product::Turin, "ARK", "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a"},
    {Product::Turin, "ASK", "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185"},
    {Product::Turin, "ASVK", "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c"},
};

struct EmbeddedAnchors {
  Product product;
  std::string_view ark;
  std::string_view ask;
  std::string_view asvk;
};

std::string_view fingerprint_of(Product product, std::string_view role) {
  for (const auto& pin : kFingerprints) {
    if (pin.product == product && pin.role == role) {
      return pin.sha256_hex;
    }
  }
  return {};
}

// Loads one embedded PEM and checks it against its pinned fingerprint.
Result<tls::X509Ptr> load_pinned(Product product, std::string_view role, std::string_view pem,
                                 Bytes& der_out) {
  auto certs = parse_certificates_pem(pem);
  if (!certs || certs->size() != 1) {
    return make_error_code(Errc::TrustAnchorInvalid);
  }
  der_out = certificate_der(certs->front().get());
  if (to_hex(sha256(der_out)) != fingerprint_of(product, role)) {
    return make_error_code(Errc::TrustAnchorInvalid);
  }
  return std::move(certs->front());
}

Result<std::shared_ptr<const ProductAnchors>> load_product(const EmbeddedAnchors& embedded) {
  auto anchors = std::make_shared<ProductAnchors>();
  auto ark = load_pinned(embedded.product, "ARK", embedded.ark, anchors->ark_der);
  auto ask = load_pinned(embedded.product, "ASK", embedded.ask, anchors->ask_der);
  auto asvk = load_pinned(embedded.product, "ASVK", embedded.asvk, anchors->asvk_der);
  if (!ark || !ask || !asvk) {
    return make_error_code(Errc::TrustAnchorInvalid);
  }
  anchors->ark = std::move(*ark);
  anchors->ask = std::move(*ask);
  anchors->asvk = std::move(*asvk);
  if (!issued_by(anchors->ark.get(), anchors->ark.get()) ||
      !issued_by(anchors->ask.get(), anchors->ark.get()) ||
      !issued_by(anchors->asvk.get(), anchors->ark.get())) {
    return make_error_code(Errc::TrustAnchorInvalid);
  }
  return std::shared_ptr<const ProductAnchors>(std::move(anchors));
}

std::size_t index_of(Product product) noexcept {
  return static_cast<std::size_t>(product);
}

}  // namespace

Result<std::shared_ptr<const TrustAnchors>> TrustAnchors::pinned() {
  static const Result<std::shared_ptr<const TrustAnchors>> kPinned =
      []() -> Result<std::shared_ptr<const TrustAnchors>> {
    const EmbeddedAnchors embedded[] = {
        {Product::Milan, amd_roots::kArkMilanPem, amd_roots::kAskMilanPem,
         amd_roots::kAsvkMilanPem},
        {Product::Genoa, amd_roots::kArkGenoaPem, amd_roots::kAskGenoaPem,
         amd_roots::kAsvkGenoaPem},
        {Product::Turin, amd_roots::kArkTurinPem, amd_roots::kAskTurinPem,
         amd_roots::kAsvkTurinPem},
    };
    auto anchors = std::make_shared<TrustAnchors>();
    for (const auto& entry : embedded) {
      auto product = load_product(entry);
      if (!product) {
        return product.error();
      }
      anchors->products_[index_of(entry.product)] = std::move(*product);
    }
    return std::shared_ptr<const TrustAnchors>(std::move(anchors));
  }();
  return kPinned;
}

Outcome<std::shared_ptr<const TrustAnchors>> TrustAnchors::insecure_for_testing(ByteView ark_der,
                                                                                ByteView ask_der,
                                                                                ByteView asvk_der) {
  const auto fail = [](std::string what) {
    return Failure{make_error_code(Errc::TrustAnchorInvalid), std::move(what)};
  };
  auto product = std::make_shared<ProductAnchors>();
  auto ark = parse_certificate_der(ark_der);
  if (!ark) {
    return fail("test ARK is not a DER certificate");
  }
  if (!issued_by(ark->get(), ark->get())) {
    return fail("test ARK is not self-signed");
  }
  product->ark = std::move(*ark);
  product->ark_der.assign(ark_der.begin(), ark_der.end());
  if (!ask_der.empty()) {
    auto ask = parse_certificate_der(ask_der);
    if (!ask || !issued_by(ask->get(), product->ark.get())) {
      return fail("test ASK is not a certificate signed by the test ARK");
    }
    product->ask = std::move(*ask);
    product->ask_der.assign(ask_der.begin(), ask_der.end());
  }
  if (!asvk_der.empty()) {
    auto asvk = parse_certificate_der(asvk_der);
    if (!asvk || !issued_by(asvk->get(), product->ark.get())) {
      return fail("test ASVK is not a certificate signed by the test ARK");
    }
    product->asvk = std::move(*asvk);
    product->asvk_der.assign(asvk_der.begin(), asvk_der.end());
  }
  auto anchors = std::make_shared<TrustAnchors>();
  std::shared_ptr<const ProductAnchors> shared = std::move(product);
  anchors->products_.fill(shared);
  anchors->insecure_ = true;
  return std::shared_ptr<const TrustAnchors>(std::move(anchors));
}

const ProductAnchors& TrustAnchors::for_product(Product product) const noexcept {
  return *products_[index_of(product)];
}

std::span<const PinnedFingerprint> pinned_fingerprints() noexcept {
  return kFingerprints;
}

bool issued_by(X509* cert, X509* issuer) {
  if (cert == nullptr || issuer == nullptr ||
      X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  const bool ok = key != nullptr && X509_verify(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace atls::attest::snp
