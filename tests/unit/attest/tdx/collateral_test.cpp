// Collateral input forms (dcap-qvl JSON, flashbots YAML, raw PCS bodies), TCB info / QE
// identity parsing, dates, trust anchors and the static collateral source.
#include "attest/tdx/collateral.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attest/tdx/collateral_source.h"
#include "attest/tdx/errors.h"
#include "attest/tdx/trust.h"
#include "core/digest.h"
#include "tdx_test_util.h"

namespace atls::attest::tdx {
namespace {

using testing::id_of;
using testing::load_documents;

constexpr const char* kJson =
    "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json";

std::string read(const std::string& relative) {
  return atls::testing::read_text(atls::testing::testdata_path(relative));
}

TEST(TdxCollateral, JsonAndYamlFormsAgree) {
  ATLS_REQUIRE_TESTDATA();
  const auto json = load_documents(kJson);
  const auto yaml =
      load_documents("flashbots/attestation-test-assets/dcap-quote-collateral-00.yaml");
  EXPECT_EQ(json.tcb_info, yaml.tcb_info);
  EXPECT_EQ(json.qe_identity, yaml.qe_identity);
  EXPECT_EQ(json.root_ca_crl, yaml.root_ca_crl);
  EXPECT_EQ(json.pck_crl, yaml.pck_crl);
  EXPECT_EQ(json.tcb_info_signature, yaml.tcb_info_signature);
  EXPECT_FALSE(json.pck_certificate_chain);
  const auto collateral = testing::parse_collateral(json);
  ASSERT_TRUE(collateral);
  EXPECT_EQ(collateral->pck_ca_type(), PckCaType::Platform);
  EXPECT_EQ(to_hex(collateral->tcb_info().fmspc), "00806f050000");
  EXPECT_EQ(collateral->tcb_info().tcb_levels.size(), 5U);
  EXPECT_EQ(collateral->tcb_info().tdx_module_identities.size(), 2U);
  EXPECT_EQ(collateral->qe_identity().id, "TD_QE");
  // The digest covers content only: the YAML twin differs in PEM trailing newlines.
  EXPECT_NE(collateral->digest(), testing::parse_collateral(yaml)->digest());
  EXPECT_EQ(collateral->digest(), testing::parse_collateral(json)->digest());
}

TEST(TdxCollateral, JsonRoundTrip) {
  ATLS_REQUIRE_TESTDATA();
  const auto documents = load_documents(kJson);
  const auto again = collateral_from_json(collateral_to_json(documents));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->tcb_info, documents.tcb_info);
  EXPECT_EQ(again->pck_crl, documents.pck_crl);
  EXPECT_EQ(again->qe_identity_signature, documents.qe_identity_signature);
}

TEST(TdxCollateral, MalformedJsonIsNamed) {
  EXPECT_EQ(id_of(collateral_from_json("{").error()), "tdx.collateral_malformed");
  EXPECT_EQ(id_of(collateral_from_json("[]").error()), "tdx.collateral_malformed");
  EXPECT_EQ(id_of(collateral_from_json("{}").error()), "tdx.collateral_malformed");
  ATLS_REQUIRE_TESTDATA();
  auto json = nlohmann::json::parse(read(kJson));
  auto broken = json;
  broken["tcb_info_signature"] = "zz";
  EXPECT_EQ(id_of(collateral_from_json(broken.dump()).error()), "tdx.collateral_malformed");
  broken = json;
  broken["pck_crl"] = "not a crl";
  EXPECT_EQ(id_of(collateral_from_json(broken.dump()).error()), "tdx.crl_malformed");
  broken = json;
  broken["qe_identity"] = 5;
  EXPECT_EQ(id_of(collateral_from_json(broken.dump()).error()), "tdx.collateral_malformed");
  broken = json;
  broken.erase("root_ca_crl");
  EXPECT_EQ(id_of(collateral_from_json(broken.dump()).error()), "tdx.collateral_malformed");
  // Duplicate keys are refused (which one is signed would be ambiguous).
  const std::string text = read(kJson);
  const std::string duplicate = "{\"tcb_info\":\"x\"," + text.substr(text.find('{') + 1);
  EXPECT_EQ(id_of(collateral_from_json(duplicate).error()), "tdx.collateral_malformed");
  // Unknown keys are ignored.
  json["comment"] = "fetched by hand";
  EXPECT_TRUE(collateral_from_json(json.dump()));
}

TEST(TdxCollateral, MalformedYamlIsNamed) {
  EXPECT_EQ(id_of(collateral_from_yaml("a: [").error()), "tdx.collateral_malformed");
  EXPECT_EQ(id_of(collateral_from_yaml("- 1").error()), "tdx.collateral_malformed");
  EXPECT_EQ(id_of(collateral_from_yaml("tcb_info: {a: 1}").error()), "tdx.collateral_malformed");
  EXPECT_EQ(id_of(collateral_from_yaml("pck_crl: x").error()), "tdx.collateral_malformed");
}

TEST(TdxCollateral, ParsedDocumentsAreChecked) {
  ATLS_REQUIRE_TESTDATA();
  const auto base = load_documents(kJson);
  auto documents = base;
  documents.tcb_info_issuer_chain = "garbage";
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.collateral_chain_malformed");
  documents = base;
  documents.pck_crl.resize(10);
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.crl_malformed");
  documents = base;
  documents.tcb_info = "{}";
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.tcb_info_malformed");
  documents = base;
  documents.qe_identity = "[1]";
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.qe_identity_malformed");
  documents = base;
  documents.qe_identity_signature.pop_back();
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.collateral_malformed");
  documents = base;
  documents.pck_certificate_chain =
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(id_of(Collateral::parse(documents).error()), "tdx.collateral_chain_malformed");
}

TEST(TdxCollateral, SplitsPcsBodiesAtTheExactBytes) {
  ATLS_REQUIRE_TESTDATA();
  const std::string body = read("go-tdx-guest/sample_tcbinfo_response_v5");
  const auto split = split_signed_json(body, "tcbInfo");
  ASSERT_TRUE(split) << split.error().describe();
  EXPECT_EQ(split->text.front(), '{');
  EXPECT_EQ(split->text.back(), '}');
  EXPECT_EQ(body.find(split->text), std::string("{\"tcbInfo\":").size());
  EXPECT_EQ(split->signature.size(), 64U);
  EXPECT_TRUE(parse_tcb_info(split->text));
  // Whitespace, member order and strings with braces or escaped quotes do not move the range.
  const std::string inner = R"({"a":"}\"{","b":[1,{"c":2}]})";
  const std::string sig(128, '0');
  const std::string spaced = "{ \"signature\" : \"" + sig +
                             "\" ,\n \"x\": [true, null, -1.5e3],\n"
                             "  \"tcbInfo\"  :  " +
                             inner + "  }";
  const auto spaced_split = split_signed_json(spaced, "tcbInfo");
  ASSERT_TRUE(spaced_split) << spaced_split.error().describe();
  EXPECT_EQ(spaced_split->text, inner);
  // Errors.
  EXPECT_FALSE(split_signed_json("{\"tcbInfo\":{}}", "tcbInfo"));  // no signature
  EXPECT_FALSE(split_signed_json("{\"tcbInfo\":1,\"signature\":\"" + sig + "\"}", "tcbInfo"));
  EXPECT_FALSE(split_signed_json("{\"signature\":\"" + sig + "\"}", "tcbInfo"));
  EXPECT_FALSE(split_signed_json("{\"tcbInfo\":{},\"tcbInfo\":{},\"signature\":\"" + sig + "\"}",
                                 "tcbInfo"));  // duplicate key
  EXPECT_FALSE(split_signed_json("{\"tcbInfo\":{},\"signature\":\"00\"}", "tcbInfo"));
  EXPECT_FALSE(split_signed_json("{\"tcbInfo\":{", "tcbInfo"));
}

TEST(TdxCollateral, IssuerChainHeadersArePercentDecoded) {
  EXPECT_EQ(decode_issuer_chain_header("-----BEGIN%20CERTIFICATE-----%0AAB%2BC").value(),
            "-----BEGIN CERTIFICATE-----\nAB+C");
  EXPECT_EQ(decode_issuer_chain_header("plain PEM").value(), "plain PEM");
  EXPECT_EQ(id_of(decode_issuer_chain_header("%2").error()), "tdx.collateral_chain_malformed");
  EXPECT_EQ(id_of(decode_issuer_chain_header("%zz").error()), "tdx.collateral_chain_malformed");
}

TEST(TdxCollateral, CrlEncodings) {
  ATLS_REQUIRE_TESTDATA();
  const Bytes der =
      atls::testing::read_bytes(atls::testing::testdata_path("intel-qvl/rootCaCrl.der"));
  const std::string pem = read("intel-qvl/rootCaCrl.pem");
  EXPECT_EQ(decode_crl_bytes(der).value(), der);
  EXPECT_EQ(decode_crl_bytes(as_bytes(pem)).value(), der);
  EXPECT_EQ(decode_crl_bytes(as_bytes(to_hex(der) + "\n")).value(), der);
  EXPECT_EQ(id_of(decode_crl_bytes(as_bytes(std::string("xyz"))).error()), "tdx.crl_malformed");
  EXPECT_EQ(
      id_of(decode_crl_bytes(as_bytes(std::string("-----BEGIN X509 CRL-----\nAA\n"))).error()),
      "tdx.crl_malformed");
  EXPECT_TRUE(parse_crl_der(der));
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(id_of(parse_crl_der(trailing).error()), "tdx.crl_malformed");
}

TEST(TdxTcbInfo, ParsesV3WithModuleIdentities) {
  ATLS_REQUIRE_TESTDATA();
  const auto split = split_signed_json(read("go-tdx-guest/sample_tcbinfo_response_v5"), "tcbInfo");
  ASSERT_TRUE(split);
  const auto info = parse_tcb_info(split->text);
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->id, "TDX");
  EXPECT_EQ(info->version, 3U);
  EXPECT_EQ(format_rfc3339(info->issue_date), "2026-02-01T14:49:26Z");
  EXPECT_EQ(format_rfc3339(info->next_update), "2026-03-03T14:49:26Z");
  EXPECT_EQ(to_hex(info->fmspc), "90c06f000000");
  EXPECT_EQ(info->tcb_evaluation_data_number, 18U);
  ASSERT_TRUE(info->tdx_module);
  EXPECT_EQ(info->tdx_module->attributes_mask,
            (std::array<std::uint8_t, 8>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  ASSERT_EQ(info->tdx_module_identities.size(), 2U);
  EXPECT_EQ(info->tdx_module_identities[1].id, "TDX_01");
  ASSERT_EQ(info->tdx_module_identities[1].tcb_levels.size(), 3U);
  EXPECT_EQ(info->tdx_module_identities[1].tcb_levels[1].isv_svn, 4);
  EXPECT_EQ(info->tdx_module_identities[1].tcb_levels[1].status, TcbStatus::OutOfDate);
  EXPECT_EQ(info->tdx_module_identities[1].tcb_levels[1].advisory_ids.size(), 2U);
  ASSERT_EQ(info->tcb_levels.size(), 3U);
  EXPECT_EQ(info->tcb_levels[0].sgx_components[0], 3);
  EXPECT_EQ(info->tcb_levels[0].status, TcbStatus::UpToDate);
}

TEST(TdxTcbInfo, ParsesV2) {
  ATLS_REQUIRE_TESTDATA();
  const auto split = split_signed_json(read("intel-qvl/tcbInfo.json"), "tcbInfo");
  ASSERT_TRUE(split);
  const auto info = parse_tcb_info(split->text);
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->id, "SGX");
  EXPECT_EQ(info->version, 2U);
  EXPECT_EQ(info->tcb_levels[0].sgx_components[1], 3);
  EXPECT_EQ(info->tcb_levels[0].pce_svn, 3);
}

TEST(TdxTcbInfo, MalformedDocumentsAreNamed) {
  const std::string good =
      R"({"id":"TDX","version":3,"issueDate":"2026-01-01T00:00:00Z",)"
      R"("nextUpdate":"2026-02-01T00:00:00Z","fmspc":"00806F050000",)"
      R"("pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":1,"tcbLevels":[)"
      R"({"tcb":{"sgxtcbcomponents":[{"svn":1},{"svn":1},{"svn":1},{"svn":1},)"
      R"({"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},)"
      R"({"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1}],"pcesvn":1,)"
      R"("tdxtcbcomponents":[{"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},)"
      R"({"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},{"svn":1},)"
      R"({"svn":1},{"svn":1},{"svn":1},{"svn":1}]},)"
      R"("tcbDate":"2025-01-01T00:00:00Z","tcbStatus":"UpToDate"}]})";
  ASSERT_TRUE(parse_tcb_info(good)) << parse_tcb_info(good).error().describe();
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    const auto info = parse_tcb_info(text);
    EXPECT_FALSE(info) << to;
    return info ? std::string("ok") : id_of(info.error()) + " " + info.error().detail;
  };
  EXPECT_NE(replaced("\"version\":3", "\"version\":1").find("unsupported"), std::string::npos);
  EXPECT_NE(replaced("2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z").find("issueDate"),
            std::string::npos);
  EXPECT_NE(replaced("00806F050000", "00806F05000").find("fmspc"), std::string::npos);
  EXPECT_NE(replaced("\"UpToDate\"", "\"Fine\"").find("unknown status"), std::string::npos);
  EXPECT_NE(replaced("{\"svn\":1}],\"pcesvn\"", "{\"svn\":1},{\"svn\":1}],\"pcesvn\"")
                .find("16 components"),
            std::string::npos);
  EXPECT_NE(replaced("\"pcesvn\":1", "\"pcesvn\":70000").find("pcesvn"), std::string::npos);
  EXPECT_NE(replaced("\"pcesvn\":1", "\"pcesvn\":-1").find("pcesvn"), std::string::npos);
  EXPECT_NE(replaced("\"pcesvn\":1", "\"pcesvn\":1.5").find("pcesvn"), std::string::npos);
  EXPECT_NE(replaced("{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":1}]}",
                     "{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":256}]}")
                .find("svn"),
            std::string::npos);
  EXPECT_EQ(id_of(parse_tcb_info("{\"id\":\"TDX\"").error()), "tdx.tcb_info_malformed");
  EXPECT_EQ(id_of(parse_tcb_info("[]").error()), "tdx.tcb_info_malformed");
}

TEST(TdxQeIdentity, ParsesAndRejects) {
  ATLS_REQUIRE_TESTDATA();
  const auto split =
      split_signed_json(read("go-tdx-guest/sample_qeIdentity_response"), "enclaveIdentity");
  ASSERT_TRUE(split);
  const auto identity = parse_qe_identity(split->text);
  ASSERT_TRUE(identity) << identity.error().describe();
  EXPECT_EQ(identity->id, "TD_QE");
  EXPECT_EQ(identity->version, 2U);
  EXPECT_EQ(identity->miscselect, 0U);
  EXPECT_EQ(identity->miscselect_mask, 0xffffffffU);
  EXPECT_EQ(to_hex(identity->mr_signer),
            "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(identity->attributes[0], 0x11);
  EXPECT_EQ(identity->attributes_mask[0], 0xfb);
  EXPECT_EQ(identity->isv_prod_id, 2);
  ASSERT_EQ(identity->tcb_levels.size(), 1U);
  EXPECT_EQ(identity->tcb_levels[0].isv_svn, 4);
  std::string text = split->text;
  text.replace(text.find("\"FFFFFFFF\""), 10, "\"FFFFFF\"");
  EXPECT_EQ(id_of(parse_qe_identity(text).error()), "tdx.qe_identity_malformed");
  EXPECT_EQ(id_of(parse_qe_identity("{}").error()), "tdx.qe_identity_malformed");
  // QE TCB level selection: highest level not above the QE's ISVSVN.
  EXPECT_EQ(match_qe_tcb_level(*identity, 4).value().isv_svn, 4);
  EXPECT_EQ(match_qe_tcb_level(*identity, 9).value().status, TcbStatus::UpToDate);
  EXPECT_EQ(id_of(match_qe_tcb_level(*identity, 3).error()), "tdx.qe_tcb_not_supported");
}

TEST(TdxTcbStatus, NamesRoundTrip) {
  for (const auto status :
       {TcbStatus::UpToDate, TcbStatus::SwHardeningNeeded, TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSwHardeningNeeded, TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded, TcbStatus::TdRelaunchAdvised,
        TcbStatus::TdRelaunchAdvisedConfigurationNeeded, TcbStatus::Revoked}) {
    EXPECT_EQ(parse_tcb_status(to_string(status)), status);
  }
  EXPECT_EQ(to_string(TcbStatus::SwHardeningNeeded), "SWHardeningNeeded");
  EXPECT_FALSE(parse_tcb_status("uptodate"));
}

TEST(TdxDates, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), SystemTime{});
  EXPECT_EQ(parse_rfc3339("2026-01-27T10:19:01Z"), testing::at_unix(1769509141));
  EXPECT_EQ(parse_rfc3339("2026-01-27T11:19:01+01:00"), testing::at_unix(1769509141));
  EXPECT_EQ(parse_rfc3339("2026-01-27T10:19:01.999Z"), testing::at_unix(1769509141));
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), testing::at_unix(1709164800));
  for (const char* bad :
       {"", "2026-01-27", "2026-01-27 10:19:01Z", "2026-01-27T10:19:01", "2023-02-29T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-01-27T24:00:00Z", "2026-01-27T10:19:01.Z",
        "2026-01-27T10:19:01+1:00", "2026-01-27T10:19:01Zx"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  EXPECT_EQ(format_rfc3339(testing::at_unix(1769509141)), "2026-01-27T10:19:01Z");
  EXPECT_EQ(format_rfc3339(testing::at_unix(-1)), "1969-12-31T23:59:59Z");
}

TEST(TdxTrust, ProductionRootIsPinned) {
  const auto anchors = TrustAnchors::intel_production();
  ASSERT_TRUE(anchors);
  ASSERT_EQ((*anchors)->anchors().size(), 1U);
  EXPECT_TRUE((*anchors)->anchors()[0].production);
  EXPECT_FALSE((*anchors)->insecure());
  EXPECT_EQ(to_hex(sha256((*anchors)->anchors()[0].der)), kIntelRootCertSha256);
  ATLS_REQUIRE_TESTDATA();
  // Byte-identical to the copies shipped by dcap-qvl and go-tdx-guest.
  EXPECT_EQ((*anchors)->anchors()[0].der,
            atls::testing::read_bytes(atls::testing::testdata_path("dcap-qvl/TrustedRootCA.der")));
  auto go = parse_pem_chain(read("go-tdx-guest/trusted_root.pem"),
                            make_error_code(Errc::CollateralChainMalformed));
  ASSERT_TRUE(go);
  EXPECT_NE((*anchors)->find(go->front().get()), nullptr);
  auto test_root = parse_pem_chain(read("intel-qvl/trustedRootCaCert.pem"),
                                   make_error_code(Errc::CollateralChainMalformed));
  ASSERT_TRUE(test_root);
  // Same subject name, different key: not an anchor.
  EXPECT_EQ((*anchors)->find(test_root->front().get()), nullptr);
}

TEST(TdxTrust, TestRootsAreExplicit) {
  EXPECT_FALSE(TrustAnchors::insecure_test_roots_for_testing({}));
  EXPECT_EQ(id_of(TrustAnchors::insecure_test_roots_for_testing({Bytes{0x30, 0x00}}).error()),
            "tdx.root_not_trusted");
  auto production = TrustAnchors::intel_production().value();
  auto copy = TrustAnchors::insecure_test_roots_for_testing({production->anchors()[0].der});
  ASSERT_TRUE(copy);
  EXPECT_TRUE((*copy)->insecure());
  EXPECT_FALSE((*copy)->anchors()[0].production);
}

TEST(TdxCollateralSource, ServesByFmspcAndCaType) {
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = testing::parse_collateral(load_documents(kJson));
  ASSERT_TRUE(collateral);
  StaticCollateralSource source({collateral});
  const Fmspc fmspc{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00};
  EXPECT_EQ(source.collateral(fmspc, PckCaType::Platform).value(), collateral);
  const auto processor = source.collateral(fmspc, PckCaType::Processor);
  ASSERT_FALSE(processor);
  EXPECT_EQ(id_of(processor.error()), "tdx.collateral_unavailable");
  EXPECT_NE(processor.error().detail.find("00806f050000"), std::string::npos);
  EXPECT_FALSE(source.collateral(Fmspc{}, PckCaType::Platform));
  EXPECT_FALSE(source.add(nullptr));
}

// A source that always fails with `code` and counts the calls.
class FailingSource final : public CollateralSource {
 public:
  explicit FailingSource(Errc code) : code_(code) {}
  Outcome<CollateralPtr> collateral(const Fmspc&, PckCaType) const override {
    ++calls;
    return Failure{make_error_code(code_), "failing source"};
  }
  mutable int calls = 0;

 private:
  Errc code_;
};

TEST(TdxChainedCollateralSource, FirstSourceWithCollateralAnswers) {
  ATLS_REQUIRE_TESTDATA();
  const auto collateral = testing::parse_collateral(load_documents(kJson));
  ASSERT_TRUE(collateral);
  const Fmspc fmspc{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00};
  auto files = std::make_shared<StaticCollateralSource>(std::vector<CollateralPtr>{collateral});
  auto service = std::make_shared<FailingSource>(Errc::CollateralUnavailable);
  ChainedCollateralSource chained({files, nullptr, service});
  EXPECT_EQ(chained.size(), 2u);
  // The files cover the platform: the service (which would schedule a fetch) is not asked.
  EXPECT_EQ(chained.collateral(fmspc, PckCaType::Platform).value(), collateral);
  EXPECT_EQ(service->calls, 0);
  // A platform the files do not cover falls through to the service.
  const auto missing = chained.collateral(fmspc, PckCaType::Processor);
  ASSERT_FALSE(missing);
  EXPECT_EQ(id_of(missing.error()), "tdx.collateral_unavailable");
  EXPECT_EQ(missing.error().detail, "failing source");
  EXPECT_EQ(service->calls, 1);

  // The service answers when it has the platform and the files do not.
  auto empty_files = std::make_shared<StaticCollateralSource>();
  ChainedCollateralSource online({empty_files, files});
  EXPECT_EQ(online.collateral(fmspc, PckCaType::Platform).value(), collateral);
}

TEST(TdxChainedCollateralSource, SpecificFailureBeatsUnavailable) {
  auto malformed = std::make_shared<FailingSource>(Errc::CollateralMalformed);
  auto unavailable = std::make_shared<FailingSource>(Errc::CollateralUnavailable);
  ChainedCollateralSource chained({malformed, unavailable});
  const auto result = chained.collateral(Fmspc{}, PckCaType::Platform);
  ASSERT_FALSE(result);
  EXPECT_EQ(id_of(result.error()), "tdx.collateral_malformed");
  EXPECT_EQ(unavailable->calls, 1);

  const ChainedCollateralSource none({});
  const auto nothing = none.collateral(Fmspc{}, PckCaType::Platform);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(id_of(nothing.error()), "tdx.collateral_unavailable");
}

}  // namespace
}  // namespace atls::attest::tdx
