"""Attestation through the real binary: the mock TEE (real evidence formats, real verification
code, an INSECURE test PKI made at test time) end to end between proxies, and the `verify`
contract on the real evidence in the shared test data."""
import http.server
import json
import os
import pathlib
import threading
import time

import pytest

from conftest import BIN, curl, run, start_client, start_server

TESTDATA = pathlib.Path(os.environ.get("ATLS_TESTDATA_DIR",
                                       pathlib.Path(__file__).resolve().parents[3] / "shared" / "testdata"))
needs_testdata = pytest.mark.skipif(not TESTDATA.is_dir(), reason=f"no shared test data at {TESTDATA}")




def snp_policy(tmp_path, **rules):
    path = tmp_path / "snp-policy.json"
    path.write_text(json.dumps([{"measurement_id": "mock-snp", "attestation_type": "sev-snp",
                                 "snp": rules}]))
    return path


MOCK_MEASUREMENT = "4d" * 48  # the mock SNP attester's default launch measurement


def test_server_attests_with_mock_snp(procs, target, mock_tee, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    client, client_port = start_client(
        procs, server_port, "--insecure-trust-mock-tee", mock_tee,
        policy=("--measurements-file", snp_policy(tmp_path, measurement=MOCK_MEASUREMENT)))
    assert "server sev-snp (record 1 (\"mock-snp\"))" in client.log
    result = curl("-D", "-", f"http://127.0.0.1:{client_port}/measurement")
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert "x-flashbots-attestation-type: sev-snp" in head
    header = next(line for line in head.split("\r\n") if line.startswith("x-flashbots-measurement:"))
    measurement = json.loads(header.split(":", 1)[1])
    assert measurement["measurement"] == MOCK_MEASUREMENT
    assert measurement["vmpl"] == "00000000"
    assert body == "No measurements"  # the client did not attest


def test_mutual_mock_snp_reaches_the_target(procs, target, mock_tee, tmp_path):
    policy = snp_policy(tmp_path)
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  "--insecure-trust-mock-tee", mock_tee, attestation="sev-snp",
                                  policy=("--measurements-file", policy))
    _, client_port = start_client(procs, server_port, "--insecure-mock-tee", mock_tee,
                                  "--insecure-trust-mock-tee", mock_tee, attestation="sev-snp",
                                  policy=("--measurements-file", policy))
    seen = json.loads(curl(f"http://127.0.0.1:{client_port}/headers").stdout)["headers"]
    assert seen["x-flashbots-attestation-type"] == ["sev-snp"]
    assert json.loads(seen["x-flashbots-measurement"][0])["measurement"] == MOCK_MEASUREMENT


def test_measurement_mismatch_is_refused(procs, target, mock_tee, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    client = procs.start([BIN, "--insecure-trust-mock-tee", mock_tee, "client",
                          f"127.0.0.1:{server_port}", "-l", "127.0.0.1:0",
                          "--client-attestation-type", "none", "--allow-self-signed",
                          "--measurements-file",
                          snp_policy(tmp_path, measurement="aa" * 48, min_guest_svn=7)])
    assert client.proc.wait(30) == 4
    assert "ratls.measurements_not_accepted" in client.log
    assert "guest_svn" in client.log  # every failed rule is listed


def test_production_verifier_rejects_mock_evidence(procs, target, mock_tee):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{server_port}", "--allow-self-signed",
                  "--allowed-remote-attestation-type", "sev-snp"])
    assert result.returncode == 4
    assert b"snp.ark_not_pinned" in result.stderr


def test_get_tls_cert_writes_verified_snp_measurements(procs, target, mock_tee, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    out = tmp_path / "m.json"
    result = run([BIN, "--insecure-trust-mock-tee", mock_tee, "get-tls-cert",
                  f"127.0.0.1:{server_port}", "--allow-self-signed",
                  "--allowed-remote-attestation-type", "sev-snp", "--out-measurements", out])
    assert result.returncode == 0, result.stderr.decode()
    assert b"BEGIN CERTIFICATE" in result.stdout


def test_mock_options_need_an_explicit_type(mock_tee, target):
    result = run([BIN, "server", f"127.0.0.1:{target}", "--insecure-mock-tee", mock_tee,
                  "--server-attestation-type", "auto", "--allowed-remote-attestation-type", "none"])
    assert result.returncode == 2


def verify(*args):
    result = run([BIN, "verify", "--json", *[str(a) for a in args]])
    return result.returncode, json.loads(result.stdout or b"{}"), result


@needs_testdata
def test_verify_flashbots_dcap_vector():
    code, out, result = verify(
        "--attestation-type", "dcap-tdx",
        "--evidence", TESTDATA / "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607",
        "--collateral", TESTDATA / "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json",
        "--at", "1769509141")
    assert code == 0, result.stderr.decode()
    assert out["verified"] is True and out["errors"] == []
    assert out["tcb_status"] == "UpToDate"
    assert out["measurements"]["mrtd"].startswith("a5844e88")
    assert out["measurements"]["rtmr0"].startswith("0564ec85")
    assert out["measurements"]["rtmr3"] == "00" * 48
    assert out["report_data"].startswith("74276a64")


@needs_testdata
def test_verify_report_data_and_time_are_checked():
    base = ["--attestation-type", "dcap-tdx",
            "--evidence", TESTDATA / "flashbots/attestation-test-assets/dcap-tdx-1766059550570652607",
            "--collateral", TESTDATA / "flashbots/attestation-test-assets/dcap-quote-collateral-00.yaml"]
    code, out, _ = verify(*base, "--at", "1769509141", "--report-data", "00" * 64)
    assert code == 4 and out["errors"] == ["tdx.report_data_mismatch"]
    code, out, _ = verify(*base, "--at", "2030-01-01T00:00:00Z")
    assert code == 4 and out["verified"] is False
    assert out["errors"][0].startswith("tdx.") and "expired" in out["errors"][0]


@needs_testdata
def test_verify_tcb_status_is_policy():
    base = ["--attestation-type", "gcp-tdx",
            "--evidence", TESTDATA / "go-tdx-guest/ccel/cos-113-tdx-quote.dat",
            "--collateral", TESTDATA / "flashbots/attestation-test-assets-pinned-4ebc037/dcap-quote-collateral-00.json",
            "--at", "1769509141"]
    code, out, _ = verify(*base)
    assert code == 4 and out["tcb_status"] == "OutOfDate"
    assert out["errors"] == ["ratls.tcb_status_not_accepted"]
    assert len(out["advisory_ids"]) > 0
    code, out, _ = verify(*base, "--accept-tcb-status", "any-but-revoked")
    assert code == 0 and out["verified"] is True


@needs_testdata
def test_verify_outdated_azure_quote_has_no_matching_level():
    code, out, _ = verify("--attestation-type", "dcap-tdx",
                          "--evidence", TESTDATA / "dcap-qvl/tdx_quote_outdated",
                          "--collateral", TESTDATA / "dcap-qvl/tdx_quote_outdated_collateral.json",
                          "--at", "2026-03-01T00:00:00Z")
    assert code == 4 and out["errors"] == ["tdx.no_matching_tcb_level"]


@needs_testdata
def test_verify_hex_evidence():
    code, out, _ = verify("--attestation-type", "dcap-tdx",
                          "--evidence", TESTDATA / "dcap-qvl/quote-from-tappd.hex",
                          "--collateral", TESTDATA / "dcap-qvl/tdx_quote_collateral.json",
                          "--at", "2025-07-01T00:00:00Z")
    assert code == 4 and out["errors"] == ["tdx.no_matching_tcb_level"]


@needs_testdata
def test_verify_snp_vectors(tmp_path):
    gsg = TESTDATA / "go-sev-guest"
    args = ["--attestation-type", "sev-snp", "--evidence", gsg / "attestation.bin",
            "--certs", gsg / "vcek.testcer", "--certs", gsg / "milan.testcer",
            "--at", "2024-01-01T00:00:00Z"]
    code, out, _ = verify(*args)
    assert code == 0 and out["signer"] == "vcek" and out["product"] == "Milan"
    assert out["measurement"].startswith("b07af962")
    assert out["policy"]["debug"] is True
    policy = tmp_path / "p.json"
    policy.write_text('[{"attestation_type": "sev-snp"}]')
    code, out, _ = verify(*args, "--measurements-file", policy)
    assert code == 4 and "snp_policy.debug_not_allowed" in out["errors"]

    virtee = TESTDATA / "virtee-sev"
    code, out, _ = verify("--attestation-type", "sev-snp", "--evidence", virtee / "report_milan.hex",
                          "--certs", virtee / "vcek_milan.der", "--certs", virtee / "cert_chain_milan",
                          "--at", "2024-01-01T00:00:00Z")
    assert code == 0 and out["verified"] is True

    vlek = TESTDATA / "cvm-reverse-proxy/snp"
    code, out, _ = verify("--attestation-type", "sev-snp", "--evidence", vlek / "attestation_vlek.hex",
                          "--certs", vlek / "vlek.pem", "--certs", vlek / "vlekcertchain.pem",
                          "--at", "2024-01-01T00:00:00Z")
    assert code == 4 and out["errors"] == ["snp.report_signature_invalid"]


def test_verify_usage_errors(tmp_path):
    evidence = tmp_path / "e.bin"
    evidence.write_bytes(b"\x00" * 10)
    assert run([BIN, "verify", "--attestation-type", "nope", "--evidence", evidence]).returncode == 2
    assert run([BIN, "verify", "--attestation-type", "sev-snp", "--evidence", evidence,
                "--at", "yesterday"]).returncode == 2
    assert run([BIN, "verify", "--attestation-type", "sev-snp", "--evidence", evidence,
                "--report-data", "abcd"]).returncode == 2
    code, out, _ = verify("--attestation-type", "sev-snp", "--evidence", evidence)
    assert code == 4 and out["errors"] == ["snp.report_truncated"]


def test_mutual_mock_snp_with_client_certificates(procs, target, mock_tee, pki, tmp_path):
    # §3.2: with client auth the client's evidence binds its own certificate's key.
    ca = pki.ca()
    server_leaf = pki.leaf(ca, "server", ips=("127.0.0.1",))
    client_leaf = pki.leaf(ca, "client", dns=("client.test",), client=True)
    policy = snp_policy(tmp_path)
    _, port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                           "--insecure-trust-mock-tee", mock_tee, "--client-auth",
                           "--client-ca-certificate", ca["cert"],
                           "--tls-certificate-path", server_leaf["cert"],
                           "--tls-private-key-path", server_leaf["key"],
                           attestation="sev-snp", policy=("--measurements-file", policy))
    _, client_port = start_client(procs, port, "--insecure-mock-tee", mock_tee,
                                  "--insecure-trust-mock-tee", mock_tee, attestation="sev-snp",
                                  policy=("--measurements-file", policy),
                                  tls=("--tls-ca-certificate", ca["cert"],
                                       "--tls-certificate-path", client_leaf["cert"],
                                       "--tls-private-key-path", client_leaf["key"]))
    seen = json.loads(curl(f"http://127.0.0.1:{client_port}/headers").stdout)["headers"]
    assert seen["x-flashbots-attestation-type"] == ["sev-snp"]


def test_log_dcap_quote_writes_received_evidence(procs, target, mock_tee, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run([BIN, "--log-dcap-quote", "--insecure-trust-mock-tee", mock_tee, "get-tls-cert",
                  f"127.0.0.1:{server_port}", "--allow-self-signed",
                  "--allowed-remote-attestation-type", "sev-snp"], cwd=workdir)
    assert result.returncode == 0, result.stderr.decode()
    files = list((workdir / "quotes").iterdir())
    assert len(files) == 1 and files[0].name.startswith("sev-snp-")
    # The logged bytes are the evidence as received: they verify offline.
    code, out, _ = verify("--attestation-type", "sev-snp", "--evidence", files[0],
                          "--insecure-trust-mock-tee", mock_tee)
    assert code == 0 and out["measurement"] == MOCK_MEASUREMENT


# --- Evidence generation through configfs-tsm (attest/tdx_gen, attest/snp, attest/local) -------
# The real binary's production configfs-tsm path against the fake configfs-tsm process
# (tests/tools/fake_configfs_tsm_main.cpp), whose "firmware" is the INSECURE mock TEE: no TEE
# hardware is involved. The peer verifies with the mock roots only.

FAKE_TSM = pathlib.Path(os.environ.get("ATLS_FAKE_TSM_BIN", BIN.parent.parent / "tests" / "fake_configfs_tsm"))
needs_fake_tsm = pytest.mark.skipif(not FAKE_TSM.is_file(), reason=f"no {FAKE_TSM} (build target fake_configfs_tsm)")


def start_fake_tsm(procs, tmp_path, mock_tee, provider="tdx_guest"):
    process = procs.start([FAKE_TSM, tmp_path / "configfs", mock_tee, provider], name="fake-tsm")
    return process.wait_for(r"fake configfs-tsm ready: (\S+)").group(1)


def generation_env(report_root, metadata="http://127.0.0.1:9", sev_guest=None, tdx_guest=None):
    """The test knobs of docs/cli.md; port 9 (discard) refuses: not GCP."""
    return {"ATLS_TSM_REPORT_ROOT": str(report_root), "ATLS_GCP_METADATA_URL": metadata,
            "ATLS_SEV_GUEST_DEVICE": str(sev_guest or pathlib.Path(report_root) / "no-sev-guest"),
            "ATLS_TDX_GUEST_DEVICE": str(tdx_guest or pathlib.Path(report_root) / "no-tdx-guest")}


@pytest.fixture
def gcp_metadata():
    """A fake GCP metadata server on 127.0.0.1 (interop spec §4.5 step 3); yields its URL."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Metadata-Flavor", "Google")
            self.send_header("Content-Length", "17")
            self.end_headers()
            self.wfile.write(b"computeMetadata/\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def attested_type(client_port):
    """The server's attestation type as the proxy-client reports it."""
    head = curl("-D", "-", "-o", "/dev/null", f"http://127.0.0.1:{client_port}/measurement").stdout.decode()
    line = next(l for l in head.split("\r\n") if l.lower().startswith("x-flashbots-attestation-type:"))
    return line.split(":", 1)[1].strip()


def wait_until_empty(directory, timeout=10.0):
    deadline = time.monotonic() + timeout
    while list(pathlib.Path(directory).iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(pathlib.Path(directory).iterdir())


@needs_fake_tsm
def test_server_generates_tdx_quotes_through_configfs_tsm(procs, target, mock_tee, tmp_path):
    root = start_fake_tsm(procs, tmp_path, mock_tee)
    server, server_port = start_server(procs, target, attestation="dcap-tdx", env=generation_env(root))
    _, client_port = start_client(procs, server_port, "--insecure-trust-mock-tee", mock_tee,
                                  policy=("--allowed-remote-attestation-type", "dcap-tdx"))
    assert attested_type(client_port) == "dcap-tdx"
    assert "cannot generate" not in server.log
    assert wait_until_empty(root) == []  # every report entry was removed


@needs_fake_tsm
def test_auto_detects_tdx_guest(procs, target, mock_tee, tmp_path):
    root = start_fake_tsm(procs, tmp_path, mock_tee)
    server, server_port = start_server(procs, target, attestation="auto", env=generation_env(root))
    server.wait_for(r"attestation type auto: attesting as dcap-tdx \(configfs-tsm provider \"tdx_guest\"")
    _, client_port = start_client(procs, server_port, "--insecure-trust-mock-tee", mock_tee,
                                  policy=("--allowed-remote-attestation-type", "dcap-tdx"))
    assert attested_type(client_port) == "dcap-tdx"


@needs_fake_tsm
def test_auto_detects_tdx_on_gcp(procs, target, mock_tee, tmp_path, gcp_metadata):
    root = start_fake_tsm(procs, tmp_path, mock_tee)
    server, server_port = start_server(procs, target, attestation="auto",
                                       env=generation_env(root, metadata=gcp_metadata))
    server.wait_for(r"attesting as gcp-tdx")
    _, client_port = start_client(procs, server_port, "--insecure-trust-mock-tee", mock_tee,
                                  policy=("--allowed-remote-attestation-type", "gcp-tdx"))
    assert attested_type(client_port) == "gcp-tdx"


@needs_fake_tsm
def test_auto_detects_sev_guest(procs, target, mock_tee, tmp_path):
    root = start_fake_tsm(procs, tmp_path, mock_tee, provider="sev_guest")
    server, server_port = start_server(procs, target, attestation="auto", env=generation_env(root))
    server.wait_for(r"attesting as sev-snp")
    _, client_port = start_client(procs, server_port, "--insecure-trust-mock-tee", mock_tee,
                                  policy=("--allowed-remote-attestation-type", "sev-snp"))
    assert attested_type(client_port) == "sev-snp"


def test_auto_without_tee_attests_as_none_and_says_why(procs, target, tmp_path):
    server, server_port = start_server(procs, target, attestation="auto",
                                       env=generation_env(tmp_path / "no-tsm"))
    line = server.wait_for(r"attesting as none \((.*)\)").group(1)
    assert "no-tsm not present" in line and "no-sev-guest" in line and "no-tdx-guest" in line
    _, client_port = start_client(procs, server_port)
    assert curl(f"http://127.0.0.1:{client_port}/measurement").stdout == b"No measurements"


def test_explicit_tdx_without_configfs_tsm_is_a_clear_error(procs, target, tmp_path):
    server, _ = start_server(procs, target, attestation="dcap-tdx",
                             env=generation_env(tmp_path / "no-tsm"))
    line = server.wait_for(r"readiness: cannot generate dcap-tdx evidence: tdx_gen\.generation_unavailable(.*)")
    assert "no-tsm" in line.group(1) and "no-tdx-guest" in line.group(1)


def test_auto_detects_tdx_guest_device(procs, target, tmp_path):
    """Without configfs-tsm a character device at ATLS_TDX_GUEST_DEVICE makes `auto` a TD. /dev/null
    answers no TDX ioctl, so the readiness self-test names the device failure: the binary's device
    path and knobs are wired. (Quotes through the device or the QGS need a device that answers
    TDX_CMD_GET_REPORT0: unit tests only, tests/unit/attest/tdx_gen.)"""
    env = generation_env(tmp_path / "no-tsm", tdx_guest="/dev/null")
    env["ATLS_TDX_QGS_ADDRESS"] = f"unix:{tmp_path}/qgs.sock"
    server, _ = start_server(procs, target, attestation="auto", env=env)
    server.wait_for(r"attestation type auto: attesting as dcap-tdx \(.*/dev/null: present")
    server.wait_for(r"readiness: cannot generate dcap-tdx evidence: tdx_gen\.device_report_failed")


def test_invalid_qgs_address_is_refused(target, tmp_path):
    env = {**os.environ, **generation_env(tmp_path / "no-tsm"), "ATLS_TDX_QGS_ADDRESS": "vsock:2"}
    result = run([BIN, "server", f"127.0.0.1:{target}", "--server-attestation-type", "dcap-tdx",
                  "--allowed-remote-attestation-type", "none"], env=env)
    assert result.returncode == 2
    assert b"tdx_gen.qgs_address_invalid" in result.stderr


def test_azure_tdx_generation_is_refused(target):
    result = run([BIN, "server", f"127.0.0.1:{target}", "--server-attestation-type", "azure-tdx",
                  "--allowed-remote-attestation-type", "none"])
    assert result.returncode == 2
    assert b"attest.generation_unavailable" in result.stderr
