// Certificates and private keys in every PEM form users have (interop spec §1.3): keys made by
// the openssl command line, so the parser is checked against an independent producer.
#include "tls/credentials.h"

#include <gtest/gtest.h>

#include "support/process.h"
#include "tls/errors.h"

namespace atls::tls {
namespace {

using testing::run_command;
using testing::TempDir;

class CredentialsTest : public ::testing::Test {
 protected:
  // Runs an openssl command inside the temp directory; fails the test on error.
  void openssl(const std::string& args) {
    const auto result = run_command("cd " + dir_.path() + " && openssl " + args + " 2>&1");
    ASSERT_EQ(result.exit_code, 0) << "openssl " << args << ": " << result.output;
  }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

  // A self-signed certificate for `key`.
  void self_signed(const std::string& key, const std::string& cert) {
    openssl("req -x509 -new -key " + key + " -subj /CN=test -days 1 -out " + cert);
  }

  TempDir dir_;
};

TEST_F(CredentialsTest, LoadsPkcs8Pkcs1AndSec1Keys) {
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-pkcs8.pem");
  openssl("ec -in ec-pkcs8.pem -out ec-sec1.pem");
  openssl("genrsa -traditional -out rsa-pkcs1.pem 2048");
  openssl("pkey -in rsa-pkcs1.pem -out rsa-pkcs8.pem");
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384-pkcs8.pem");
  openssl("ec -in ec384-pkcs8.pem -out ec384-sec1.pem");
  // The forms are what their names claim.
  EXPECT_NE(testing::run_command("grep -c 'BEGIN EC PRIVATE KEY' " + path("ec-sec1.pem")).output,
            "0\n");
  EXPECT_NE(testing::run_command("grep -c 'BEGIN RSA PRIVATE KEY' " + path("rsa-pkcs1.pem")).output,
            "0\n");

  for (const std::string key :
       {"ec-pkcs8.pem", "ec-sec1.pem", "rsa-pkcs1.pem", "rsa-pkcs8.pem", "ec384-sec1.pem"}) {
    SCOPED_TRACE(key);
    self_signed(key, key + ".crt");
    auto credentials = load_credentials(path(key + ".crt"), path(key));
    ASSERT_TRUE(credentials) << credentials.error().describe();
    EXPECT_EQ(credentials->chain.size(), 1U);
  }
}

TEST_F(CredentialsTest, CombinedKeyAndCertificateFileWorksForBoth) {
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem");
  self_signed("key.pem", "cert.pem");
  ASSERT_EQ(
      run_command("cat " + path("cert.pem") + " " + path("key.pem") + " > " + path("both.pem"))
          .exit_code,
      0);
  auto credentials = load_credentials(path("both.pem"), path("both.pem"));
  ASSERT_TRUE(credentials) << credentials.error().describe();
}

TEST_F(CredentialsTest, ChainKeepsOrderLeafFirst) {
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key");
  openssl("req -x509 -new -key ca.key -subj /CN=ca -days 1 -out ca.crt");
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key");
  openssl("req -new -key leaf.key -subj /CN=leaf -out leaf.csr");
  openssl("x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out leaf.crt");
  ASSERT_EQ(
      run_command("cat " + path("leaf.crt") + " " + path("ca.crt") + " > " + path("chain.pem"))
          .exit_code,
      0);
  auto credentials = load_credentials(path("chain.pem"), path("leaf.key"));
  ASSERT_TRUE(credentials) << credentials.error().describe();
  ASSERT_EQ(credentials->chain.size(), 2U);
  char name[256] = {};
  X509_NAME_oneline(X509_get_subject_name(credentials->chain[0].get()), name, sizeof(name));
  EXPECT_STREQ(name, "/CN=leaf");
}

TEST_F(CredentialsTest, NamedErrorsForBadInput) {
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem");
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem");
  openssl(
      "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret "
      "-out encrypted.pem");
  self_signed("key.pem", "cert.pem");

  auto mismatch = load_credentials(path("cert.pem"), path("other.pem"));
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, make_error_code(Errc::KeyCertificateMismatch));

  auto encrypted = load_private_key(path("encrypted.pem"));
  ASSERT_FALSE(encrypted);
  EXPECT_EQ(encrypted.error().code, make_error_code(Errc::EncryptedPrivateKey));

  auto no_key = load_private_key(path("cert.pem"));
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, make_error_code(Errc::NoPrivateKey));
  EXPECT_NE(no_key.error().detail.find("cert.pem"), std::string::npos);

  auto missing = load_certificates(path("does-not-exist.pem"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(Errc::FileUnreadable));

  auto no_cert = load_certificates(path("key.pem"));
  ASSERT_FALSE(no_cert);
  EXPECT_EQ(no_cert.error().code, make_error_code(Errc::NoCertificate));
}

TEST(CredentialsParse, MalformedBlocksAreNamedErrors) {
  const std::string bad_cert = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
  auto cert = parse_certificates(bad_cert);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, make_error_code(Errc::InvalidCertificate));

  const std::string bad_key = "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n";
  auto key = parse_private_key(bad_key);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, make_error_code(Errc::InvalidPrivateKey));

  EXPECT_FALSE(parse_private_key("not pem at all"));
  EXPECT_FALSE(parse_certificates(""));
}

}  // namespace
}  // namespace atls::tls
