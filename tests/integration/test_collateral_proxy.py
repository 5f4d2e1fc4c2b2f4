"""The collateral service and the KDS certificate cache inside running proxies
(docs/operations.md "Collateral and certificates"), against the fake PCS (backends/fake_pcs.py)
and the fake KDS (backends/fake_kds.py), with mock TEE evidence:

  * TDX: a proxy-client verifying a mock-TDX proxy-server with --pccs-url and
    --collateral-cache-dir and NO --collateral files (nor the mock directory's own collateral)
    is refused with tdx.collateral_unavailable until the background fetch has run, then
    serves; keeps serving from the cache while the PCS fails (failures and the breaker show in
    /metrics); recovers; and a restarted client works from the disk cache with the PCS gone.
  * SEV-SNP: mock evidence without its VCEK is verified with the VCEK fetched from the fake KDS
    (--kds-url, --kds-cache-dir), and from the disk cache after a restart with the KDS gone.
  * SEV-SNP revocation (--kds-crls): both CRLs of the product are fetched at start-up, refreshed
    in the background, and applied by the running verifier: a refreshed CRL revoking the mock
    ASK makes the next re-attestation fail with snp.certificate_revoked; without a CRL the peer
    is refused with snp.crl_missing; the CRL metrics pass promtool.
Everything listens on 127.0.0.1 with ephemeral ports."""
import json
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, curl, run, start_client, start_server
from fake_kds import FakeKds, pem_to_der
from fake_pcs import FakePcs

MOCK_FMSPC = "00a06e570000"
TDX_KEY = "tdx-" + MOCK_FMSPC + "-platform"


@pytest.fixture
def pcs(mock_tee):
    collateral = json.loads((mock_tee / "tdx-collateral.json").read_text())
    server = FakePcs(collateral, MOCK_FMSPC, "platform")
    yield server
    server.close()


def admin_url(process):
    match = process.wait_for(r"admin endpoints .* on [0-9.]+:(\d+)")
    return "http://127.0.0.1:%s" % match.group(1)


def metrics(admin):
    result = curl(admin + "/metrics")
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def wait_for_file(path, pattern=None, timeout=15.0):
    """Waits until `path` is a file (or, with `pattern`, a directory with a matching entry)."""
    deadline = time.monotonic() + timeout
    while not (list(path.glob(pattern)) if pattern else path.is_file()):
        directory = path if pattern else path.parent
        listing = list(directory.iterdir()) if directory.exists() else "missing"
        assert time.monotonic() < deadline, "%s %s never appeared; directory: %s" % (
            path, pattern or "", listing)
        time.sleep(0.1)


def readiness(admin):
    """(HTTP status, JSON report) of /attestation/ready."""
    result = curl("-w", "\n%{http_code}", admin + "/attestation/ready")
    assert result.returncode == 0, result.stderr.decode()
    body, status = result.stdout.decode().rsplit("\n", 1)
    return int(status), json.loads(body)


def metric_value(text, name, **labels):
    """Value of the sample `name{labels}` (labels in any order), or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(4))
    return None


def wait_for_metrics(admin, predicate, what, timeout=60.0):
    """Polls /metrics until predicate(text) holds; returns the text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = metrics(admin)
        if predicate(text):
            return text
        time.sleep(0.5)
    raise AssertionError("metrics never showed %s; last scrape:\n%s" % (what, text))


def request_ok(port):
    result = curl("http://127.0.0.1:%d/measurement" % port)
    return result.returncode == 0 and result.stdout != b""


def tdx_client(procs, server_port, mock_tee, pcs_url, cache, *extra, wait_channel=True):
    return start_client(
        procs, server_port, "--insecure-trust-mock-tee", mock_tee, "--pccs-url", pcs_url,
        "--collateral-cache-dir", cache, "--admin-listen-addr", "127.0.0.1:0", *extra,
        policy=("--allowed-remote-attestation-type", "dcap-tdx"), wait_channel=wait_channel)


def test_tdx_collateral_fetched_cached_and_served_through_outages(procs, target, mock_tee, pcs,
                                                                  tmp_path):
    cache = tmp_path / "collateral"
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="dcap-tdx")
    client, client_port = tdx_client(procs, server_port, mock_tee, pcs.base_url, cache,
                                     "--collateral-refresh-interval", "2",
                                     "--max-attestation-age", "3")
    admin = admin_url(client)
    # Nothing was cached: the first handshake was refused while the collateral was fetched in
    # the background, then the channel came up with the fetched collateral.
    assert "refused for now (tdx.collateral_unavailable" in client.log, client.log_tail()
    assert pcs.total_hits() >= 4
    # The bundle is written to disk right after it is stored in memory (which let the channel
    # come up): poll instead of racing the writer.
    wait_for_file(cache / (TDX_KEY + ".cache"))
    assert request_ok(client_port)

    text = metrics(admin)
    expiry = metric_value(text, "atls_collateral_expiry_seconds", source="tdx", key=TDX_KEY)
    assert expiry is not None and expiry > 0, text
    assert metric_value(text, "atls_collateral_age_seconds", source="tdx", key=TDX_KEY) >= 0
    assert metric_value(text, "atls_collateral_upstream_breaker_state", source="tdx") == 0
    assert metric_value(text, "atls_collateral_entries", source="tdx") == 1
    assert metric_value(text, "atls_pcs_requests_total") >= 4
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not installed (scripts/install-deps.sh installs prometheus)")
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    # A SIGHUP policy reload builds new verifiers over the same service (not a second one).
    client.proc.send_signal(signal.SIGHUP)
    client.wait_for("policy reloaded")
    assert client.log.count("TDX collateral service:") == 1
    assert request_ok(client_port)

    # The PCS fails: refreshes fail, the breaker opens, and verification keeps using the cached
    # (still valid) collateral — new channels (max attestation age 3 s) are still accepted.
    accepted = lambda t: metric_value(t, "atls_attestation_verifications_total", role="client",
                                      type="dcap-tdx", result="accepted") or 0
    accepted_before = accepted(metrics(admin))
    pcs.fail_with(500)
    text = wait_for_metrics(
        admin, lambda t: (metric_value(t, "atls_collateral_upstream_breaker_opened_total",
                                       source="tdx") or 0) >= 1,
        "the PCS breaker opening")
    assert metric_value(text, "atls_collateral_fetch_failures_total", source="tdx") >= 5
    assert metric_value(text, "atls_collateral_consecutive_failures", source="tdx",
                        key=TDX_KEY) >= 1
    assert metric_value(text, "atls_collateral_expiry_seconds", source="tdx", key=TDX_KEY) > 0
    for _ in range(3):
        assert request_ok(client_port)
    wait_for_metrics(admin, lambda t: accepted(t) > accepted_before,
                     "a re-attestation accepted while the PCS fails")
    assert request_ok(client_port)

    # Recovery: the half-open probe succeeds, the breaker closes, the bundle is refreshed.
    pcs.recover()
    text = wait_for_metrics(
        admin, lambda t: metric_value(t, "atls_collateral_upstream_breaker_state",
                                      source="tdx") == 0 and
        metric_value(t, "atls_collateral_consecutive_failures", source="tdx", key=TDX_KEY) == 0,
        "the breaker closing after recovery")
    assert request_ok(client_port)
    client.stop()

    # A restarted client with the same cache and the PCS gone verifies from the disk cache at
    # once (no refusal).
    pcs.close()
    restarted, restarted_port = tdx_client(procs, server_port, mock_tee, pcs.base_url, cache)
    assert "refused for now" not in restarted.log, restarted.log_tail()
    assert "1 bundle(s) restored" in restarted.log
    assert request_ok(restarted_port)


def test_tdx_prefetch_and_one_shot_commands(procs, target, mock_tee, pcs, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="dcap-tdx")
    # --collateral-prefetch warms the cache at start-up: the first handshake succeeds.
    warm = tmp_path / "warm"
    client, client_port = tdx_client(procs, server_port, mock_tee, pcs.base_url, warm,
                                     "--collateral-prefetch", MOCK_FMSPC + ":platform")
    assert "TDX collateral warm-up done" in client.log, client.log_tail()
    assert "refused for now" not in client.log
    assert request_ok(client_port)
    # Readiness includes the prefetched platform's collateral.
    status, report = readiness(admin_url(client))
    assert status == 200 and report["checks"]["collateral"]["ok"] is True, report
    assert "TDX collateral for 1 platform" in report["checks"]["collateral"]["detail"]

    # attested-get with a cold cache: refused once, waits for the background fetch, retries.
    cold = tmp_path / "cold"
    got = run([BIN, "--insecure-trust-mock-tee", mock_tee, "--pccs-url", pcs.base_url,
               "--collateral-cache-dir", cold, "--allowed-remote-attestation-type", "dcap-tdx",
               "--log-dcap-quote", "attested-get", "127.0.0.1:%d" % server_port,
               "--allow-self-signed", "--url-path", "/measurement"], cwd=tmp_path)
    assert got.returncode == 0, got.stderr.decode()
    assert b"retrying once the background fetch has run" in got.stderr + got.stdout
    assert (cold / (TDX_KEY + ".cache")).is_file()

    # `verify` with a cold cache waits for the fetch and verifies; offline (the mock
    # directory's own collateral) it verifies too, and with the PCS failing and a cold cache
    # it is refused with the named error.
    quote = sorted((tmp_path / "quotes").glob("dcap-tdx-*"))[0]
    verify = [BIN, "--insecure-trust-mock-tee", mock_tee, "--pccs-url", pcs.base_url]
    verified = run(verify + ["--collateral-cache-dir", tmp_path / "verify-cache", "verify",
                             "--attestation-type", "dcap-tdx", "--evidence", quote, "--json"])
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    assert json.loads(verified.stdout)["verified"] is True
    pcs.fail_with(500)
    refused = run(verify + ["--collateral-cache-dir", tmp_path / "verify-cache-2", "verify",
                            "--attestation-type", "dcap-tdx", "--evidence", quote, "--json"])
    assert refused.returncode == 4, refused.stdout.decode() + refused.stderr.decode()
    assert json.loads(refused.stdout)["errors"] == ["tdx.collateral_unavailable"]
    pcs.recover()

    # A failed warm-up is a warning: start-up continues (handshakes are retried meanwhile).
    failing = tmp_path / "failing"
    pcs.fail_with(503)
    client2, _ = tdx_client(procs, server_port, mock_tee, pcs.base_url, failing,
                            "--collateral-prefetch", MOCK_FMSPC, "--handshake-timeout", "5",
                            "--collateral-refresh-interval", "2", wait_channel=False)
    client2.wait_for("TDX collateral warm-up incomplete, continuing")
    # Not ready while the prefetched platform has no collateral; ready once the PCS recovers
    # and the background refresh has fetched it.
    admin2 = admin_url(client2)
    status, report = readiness(admin2)
    assert status == 503 and report["checks"]["collateral"]["ok"] is False, report
    assert TDX_KEY + ": not fetched" in report["checks"]["collateral"]["detail"], report
    pcs.recover()
    deadline = time.monotonic() + 60
    while readiness(admin2)[0] != 200:
        assert time.monotonic() < deadline, readiness(admin2)
        time.sleep(0.5)
    # Bad flags are usage errors.
    bad = run([BIN, "--insecure-trust-mock-tee", mock_tee, "--collateral-cache-dir", failing,
               "--collateral-prefetch", "xyz", "attested-get", "127.0.0.1:1"])
    assert bad.returncode == 2, bad.stderr.decode()
    assert b"--collateral-prefetch" in bad.stderr + bad.stdout


def test_snp_vcek_from_kds_and_disk_cache(procs, target, mock_tee, tmp_path):
    settings = mock_tee / "snp-mock.json"
    settings.write_text('{"include_vcek": false}')
    try:
        _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                      attestation="sev-snp")
        vcek = pem_to_der((mock_tee / "snp-vcek.crt").read_text())
        kds = FakeKds(vcek, "Milan", "c1" * 64)
        cache = tmp_path / "kds"
        try:
            client, client_port = start_client(
                procs, server_port, "--insecure-trust-mock-tee", mock_tee, "--kds-url",
                kds.base_url, "--kds-cache-dir", cache, "--admin-listen-addr", "127.0.0.1:0",
                policy=("--allowed-remote-attestation-type", "sev-snp"))
            assert "refused for now (snp.certificate_missing" in client.log, client.log_tail()
            assert kds.total_hits() >= 1
            assert request_ok(client_port)
            wait_for_file(cache, "vcek-Milan-*.der")
            text = metrics(admin_url(client))
            assert metric_value(text, "atls_kds_requests_total") >= 1
            assert metric_value(text, "atls_kds_cache_misses_total") >= 1
            assert metric_value(text, "atls_kds_cache_hits_total") >= 1
            assert metric_value(text, "atls_collateral_upstream_breaker_state", source="kds") == 0
            client.stop()
        finally:
            kds.close()

        # The KDS is gone: a restarted client verifies with the cached VCEK at once.
        restarted, restarted_port = start_client(
            procs, server_port, "--insecure-trust-mock-tee", mock_tee, "--kds-url",
            kds.base_url, "--kds-cache-dir", cache,
            policy=("--allowed-remote-attestation-type", "sev-snp"))
        assert "refused for now" not in restarted.log, restarted.log_tail()
        assert "1 VCEK(s)" in restarted.log
        assert request_ok(restarted_port)

        # Offline, evidence without its VCEK is refused (fail closed, exit 4).
        offline = run([BIN, "--insecure-trust-mock-tee", mock_tee,
                       "--allowed-remote-attestation-type", "sev-snp", "attested-get",
                       "127.0.0.1:%d" % server_port, "--allow-self-signed"])
        assert offline.returncode == 4, offline.stderr.decode()
        assert b"snp.certificate_missing" in offline.stderr + offline.stdout
    finally:
        settings.unlink()


def mock_crl(mock_tee, path, *revoke):
    """A CRL signed by the mock ARK (`atls-proxy mock-tee crl`), as DER bytes."""
    args = [BIN, "mock-tee", "crl", mock_tee, "--out", path]
    if revoke:
        args += ["--revoke", ",".join(revoke)]
    result = run(args)
    assert result.returncode == 0, result.stderr.decode()
    return path.read_bytes()


def test_snp_crls_fetched_refreshed_and_required(procs, target, mock_tee, tmp_path):
    _, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                  attestation="sev-snp")
    kds = FakeKds(None, "Milan", "c1" * 64)  # the evidence carries its VCEK
    try:
        clean = mock_crl(mock_tee, tmp_path / "clean.der")
        kds.set_crl("Milan", "vcek", clean)
        kds.set_crl("Milan", "vlek", clean)
        snp = ("--insecure-trust-mock-tee", mock_tee, "--kds-url", kds.base_url,
               "--kds-crls", "Milan")
        policy = ("--allowed-remote-attestation-type", "sev-snp")

        # Both CRLs are fetched at start-up, before the first handshake, which succeeds.
        cache = tmp_path / "kds"
        client, client_port = start_client(
            procs, server_port, *snp, "--kds-cache-dir", cache, "--kds-crl-refresh-interval",
            "1", "--max-attestation-age", "3", "--admin-listen-addr", "127.0.0.1:0",
            policy=policy)
        assert "AMD CRL warm-up done" in client.log, client.log_tail()
        assert "refused for now" not in client.log
        assert kds.hits_of("/vcek/v1/Milan/crl") >= 1
        assert kds.hits_of("/vlek/v1/Milan/crl") >= 1
        assert (cache / "crl-vcek-Milan.der").read_bytes() == clean
        wait_for_file(cache / "crl-vlek-Milan.der")
        assert request_ok(client_port)

        admin = admin_url(client)
        text = wait_for_metrics(
            admin, lambda t: (metric_value(t, "atls_kds_crl_refreshes_total", result="ok")
                              or 0) >= 4, "CRL refreshes")
        for family in ("vcek", "vlek"):
            assert metric_value(text, "atls_kds_crl_next_update_seconds", product="Milan",
                                family=family) > 0, text
            assert metric_value(text, "atls_kds_crl_age_seconds", product="Milan",
                                family=family) >= 0, text
        assert metric_value(text, "atls_kds_crl_next_update_seconds", product="Genoa",
                            family="vcek") is None, "only configured products are exported"
        assert metric_value(text, "atls_kds_crl_refreshes_total", result="failed") == 0
        promtool = shutil.which("promtool")
        if promtool is None:
            pytest.fail("promtool not installed (scripts/install-deps.sh installs prometheus)")
        check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
        status, report = readiness(admin)
        assert status == 200, report
        assert "2 AMD CRL(s)" in report["checks"]["collateral"]["detail"], report

        # KDS now publishes a CRL revoking the mock ASK: the running client refreshes it, and
        # its next re-attestation (max attestation age 3 s) is refused — no reload, no restart.
        revoked = mock_crl(mock_tee, tmp_path / "revoked.der", "ask")
        kds.set_crl("Milan", "vcek", revoked)
        client.wait_for(r"re-attestation to .* failed: snp\.certificate_revoked", timeout=60)
        assert (cache / "crl-vcek-Milan.der").read_bytes() == revoked
        text = wait_for_metrics(
            admin, lambda t: (metric_value(t, "atls_attestation_failures_total", role="client",
                                           type="sev-snp", reason="snp.certificate_revoked")
                              or 0) >= 1, "the revocation counted")
        client.stop()

        # A one-shot command with the revoking CRL refuses the server at once (exit 4).
        got = run([BIN, *snp, "--kds-cache-dir", tmp_path / "kds-2", *policy, "attested-get",
                   "127.0.0.1:%d" % server_port, "--allow-self-signed"])
        assert got.returncode == 4, got.stderr.decode()
        assert b"snp.certificate_revoked" in got.stderr + got.stdout

        # No CRL at KDS and none cached: refused with snp.crl_missing (fail closed); the
        # proxy-client keeps retrying while the worker keeps trying KDS.
        kds.set_crl("Milan", "vcek", None)
        kds.set_crl("Milan", "vlek", None)
        missing, _ = start_client(procs, server_port, *snp, "--kds-cache-dir",
                                  tmp_path / "kds-3", "--kds-crl-refresh-interval", "1",
                                  "--handshake-timeout", "5", "--admin-listen-addr",
                                  "127.0.0.1:0", policy=policy, wait_channel=False)
        missing.wait_for("AMD CRL warm-up incomplete, continuing")
        missing.wait_for(r"refused for now \(snp\.crl_missing")
        missing_admin = admin_url(missing)
        status, report = readiness(missing_admin)
        assert status == 503, report
        assert "AMD CRL Milan/vcek: not fetched" in report["checks"]["collateral"]["detail"]
        got = run([BIN, *snp, "--kds-cache-dir", tmp_path / "kds-4", *policy,
                   "--handshake-timeout", "5", "attested-get", "127.0.0.1:%d" % server_port,
                   "--allow-self-signed"])
        assert got.returncode == 4, got.stderr.decode()
        assert b"snp.crl_missing" in got.stderr + got.stdout

        # Once KDS has it again, the waiting client gets its channel.
        kds.set_crl("Milan", "vcek", clean)
        kds.set_crl("Milan", "vlek", clean)
        missing.wait_for(r"attested channel to .* established", timeout=120)
        assert readiness(missing_admin)[0] == 200
    finally:
        kds.close()

    # --kds-crls needs the KDS fetcher; unknown products are refused: usage errors.
    bad = run([BIN, "--insecure-trust-mock-tee", mock_tee, "--kds-crls", "Milan",
               "attested-get", "127.0.0.1:1"])
    assert bad.returncode == 2, bad.stderr.decode()
    assert b"--kds-crls needs the KDS fetcher" in bad.stderr + bad.stdout
    bad = run([BIN, "--insecure-trust-mock-tee", mock_tee, "--kds-url", "http://127.0.0.1:1",
               "--kds-crls", "Venice", "attested-get", "127.0.0.1:1"])
    assert bad.returncode == 2, bad.stderr.decode()
    assert b"--kds-crls" in bad.stderr + bad.stdout
