"""The token service (docs/token-service.md): a workload exchanges mock TDX evidence bound to its
DPoP key for a DPoP-bound access token. The issued JWT, the DPoP checks and the JWK thumbprints
are cross-checked with python3-jwcrypto, an independent JOSE implementation."""
import base64
import json
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest
from conftest import BIN, admin_port, curl, get, metric_value, run

jwk = pytest.importorskip("jwcrypto.jwk", reason="python3-jwcrypto (scripts/install-deps.sh)")
jwt = pytest.importorskip("jwcrypto.jwt")
jws = pytest.importorskip("jwcrypto.jws")

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TYPE = "urn:atls-proxy:params:oauth:token-type:ratls-attestation"
ACCEPTED = "33" * 48
OTHER = "44" * 48


def free_port():
    """An ephemeral port for a listener whose URL must be known before it starts (the issuer
    URL names it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def service(procs, pki, mock_tee, tmp_path):
    """A running token service trusting the mock TEE, accepting MRTD ACCEPTED."""
    ca = pki.ca()
    leaf = pki.leaf(ca, "sts", ips=("127.0.0.1",))
    signing_key = pki.key("signing")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"measurement_id": "billing-workload",
                                   "attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected": ACCEPTED}}}]))
    audit = tmp_path / "sts-audit.json"
    port = free_port()
    process = procs.start([BIN, "token-service", "--listen-addr", f"127.0.0.1:{port}",
                           "--tls-certificate-path", leaf["cert"],
                           "--tls-private-key-path", leaf["key"],
                           "--signing-key", signing_key, "--issuer", f"https://127.0.0.1:{port}/",
                           "--audience", "cockroachdb", "--audience", "billing-api",
                           "--token-ttl", "120",
                           "--measurements-file", policy,
                           "--insecure-trust-mock-tee", mock_tee,
                           "--admin-listen-addr", "127.0.0.1:0", "--audit-log", audit],
                          name="token-service")
    process.wait_for(r"token service listening on 127\.0\.0\.1:(\d+)")
    return {"process": process, "port": port, "ca": ca["cert"], "admin": admin_port(process),
            "audit": audit, "signing_key": signing_key, "mock_tee": mock_tee, "tmp": tmp_path,
            "endpoint": f"https://127.0.0.1:{port}/token",
            # What proofs name: the same URL written differently (RFC 3986 §6.2.2 case and
            # default-port normalisation does not apply to a non-default port).
            "htu": f"HTTPS://127.0.0.1:{port}/token?ignored#too"}


def get_token(svc, *extra, measurement=ACCEPTED, key_name="dpop.pem", attestation="dcap-tdx"):
    (svc["mock_tee"] / "tdx-measurements.json").write_text(json.dumps({"mrtd": measurement}))
    return run([BIN, "get-token", svc["endpoint"], "--dpop-key", svc["tmp"] / key_name,
                "--attestation-type", attestation, "--insecure-mock-tee", svc["mock_tee"],
                "--tls-ca-certificate", svc["ca"], *extra])


def https_get(svc, path):
    result = curl("--cacert", svc["ca"], f"https://127.0.0.1:{svc['port']}{path}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def metrics(svc):
    status, text = get(f"http://127.0.0.1:{svc['admin']}/metrics")
    assert status == 200
    return text


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def post_token(svc, body, proof_headers):
    """POST /token with curl; returns (status, headers dict lower-case, json body)."""
    args = ["--cacert", svc["ca"], "-D", "-", "-o", "-", "-X", "POST",
            "-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", body]
    for proof in proof_headers:
        args += ["-H", f"DPoP: {proof}"]
    result = curl(*args, svc["endpoint"])
    assert result.returncode == 0, result.stderr
    head, _, payload = result.stdout.decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(payload)


def make_proof(key, htu, nonce=None, jti=None, iat=None, typ="dpop+jwt"):
    """A DPoP proof signed by jwcrypto (RFC 9449 §4.2)."""
    claims = {"jti": jti or secrets.token_urlsafe(12), "htm": "POST", "htu": htu,
              "iat": int(iat if iat is not None else time.time())}
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": typ, "alg": "ES256", "jwk": json.loads(key.export_public())}
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def test_workload_exchanges_attestation_for_a_dpop_bound_token(service):
    svc = service
    result = get_token(svc, "--audience", "cockroachdb")
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)
    assert answer["token_type"] == "DPoP"
    assert answer["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert answer["expires_in"] == 120

    # The signature verifies with the published key (jwcrypto), and the claims are RFC 9068's.
    keys = jwk.JWKSet.from_json(json.dumps(https_get(svc, "/jwks")))
    token = jwt.JWT(jwt=answer["access_token"], key=keys, algs=["ES256"],
                    check_claims={"iss": f"https://127.0.0.1:{svc['port']}",
                                  "aud": "cockroachdb"})
    header = json.loads(token.header)
    claims = json.loads(token.claims)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    signing = jwk.JWK.from_pem(svc["signing_key"].read_bytes())
    assert header["kid"] == signing.thumbprint()
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["sub"] == "billing-workload"

    # Bound to the workload's DPoP key (written by get-token, mode 0600): cnf.jkt is its RFC
    # 7638 thumbprint as jwcrypto computes it.
    key_file = svc["tmp"] / "dpop.pem"
    assert (key_file.stat().st_mode & 0o777) == 0o600
    dpop_key = jwk.JWK.from_pem(key_file.read_bytes())
    assert claims["cnf"] == {"jkt": dpop_key.thumbprint()}
    assert claims["client_id"] == dpop_key.thumbprint()
    atls = claims["atls"]
    assert atls["attestation_type"] == "dcap-tdx"
    assert atls["measurements"]["0"] == ACCEPTED
    assert atls["policy_record"] == 'record 1 ("billing-workload")'
    assert len(atls["evidence_sha256"]) == 64

    # A second exchange reuses the key file and gets a new token for the same key.
    again = get_token(svc)
    assert again.returncode == 0, again.stderr.decode()
    second = json.loads(again.stdout)
    claims2 = json.loads(jwt.JWT(jwt=second["access_token"], key=keys).claims)
    assert claims2["cnf"] == claims["cnf"] and claims2["jti"] != claims["jti"]
    assert claims2["aud"] == "cockroachdb"  # the default audience is the first

    text = metrics(svc)
    assert metric_value(text, "atls_token_issues_total", token_type="DPoP") == 2, text
    assert metric_value(text, "atls_attestation_verifications_total", role="sts",
                        type="dcap-tdx", result="accepted") == 2
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not installed (scripts/install-deps.sh installs prometheus)")
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    # Audited, and the chain verifies.
    assert svc["process"].stop() == 0
    records = [json.loads(line) for line in svc["audit"].read_text().splitlines()]
    issued = [r for r in records if r["event"] == "token"]
    assert [r["decision"] for r in issued] == ["issued", "issued"]
    assert issued[0]["key_thumbprint"] == dpop_key.thumbprint()
    assert issued[0]["measurements"]["0"] == ACCEPTED
    assert "access_token" not in json.dumps(records)
    assert answer["access_token"] not in svc["audit"].read_text()
    assert answer["access_token"] not in svc["process"].log
    verify = run([BIN, "audit", "verify", svc["audit"]])
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()


def test_refusals_are_named_counted_and_audited(service):
    svc = service
    # A workload the policy does not accept.
    result = get_token(svc, measurement=OTHER)
    assert result.returncode == 4, result.stderr.decode()
    assert b"invalid_grant" in result.stderr and b"measurements_not_accepted" in result.stderr
    # An audience the service does not issue for.
    result = get_token(svc, "--audience", "somewhere-else")
    assert result.returncode == 4 and b"invalid_target" in result.stderr, result.stderr.decode()
    # Two audiences at once (one token, one audience).
    result = get_token(svc, "--audience", "cockroachdb", "--audience", "billing-api")
    assert result.returncode == 4 and b"invalid_target" in result.stderr, result.stderr.decode()

    text = metrics(svc)
    assert metric_value(text, "atls_token_requests_rejected_total",
                        reason="ratls.measurements_not_accepted") == 1, text
    assert metric_value(text, "atls_token_requests_rejected_total",
                        reason="sts.invalid_target") == 2, text
    assert metric_value(text, "atls_policy_violations_total", role="sts",
                        reason="ratls.measurements_not_accepted") == 1, text
    assert metric_value(text, "atls_token_issues_total", token_type="DPoP") is None
    assert svc["process"].stop() == 0
    records = [json.loads(line) for line in svc["audit"].read_text().splitlines()]
    rejected = [r for r in records if r["event"] == "token"]
    assert [r["reason"] for r in rejected] == ["ratls.measurements_not_accepted",
                                               "sts.invalid_target", "sts.invalid_target"]
    assert all(r["decision"] == "rejected" for r in rejected)


def test_dpop_proofs_are_checked_like_rfc_9449_says(service):
    """Proofs made by jwcrypto: nonce round trip, replay, wrong htu, wrong typ, stale iat,
    two DPoP headers, missing proof; and evidence that does not bind the proof's key."""
    svc = service
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    body = "grant_type=" + urllib.parse.quote(GRANT, safe="")

    status, headers, answer = post_token(svc, body, [])
    assert (status, answer["error"], answer["error_description"]) == \
        (400, "invalid_dpop_proof", "dpop.proof_missing")

    status, headers, answer = post_token(svc, body, [make_proof(key, svc["htu"])])
    assert (status, answer["error"]) == (400, "use_dpop_nonce")
    assert headers["cache-control"] == "no-store"
    nonce = headers["dpop-nonce"]

    def refused(proofs, form=body):
        status, _, answer = post_token(svc, form, proofs)
        assert status == 400, answer
        return answer["error"], answer["error_description"]

    assert refused([make_proof(key, svc["endpoint"].replace("/token", "/other"), nonce)]) == \
        ("invalid_dpop_proof", "dpop.uri_mismatch")
    assert refused([make_proof(key, svc["htu"], nonce, typ="JWT")]) == \
        ("invalid_dpop_proof", "dpop.typ_invalid")
    assert refused([make_proof(key, svc["htu"], nonce, iat=time.time() - 3600)]) == \
        ("invalid_dpop_proof", "dpop.iat_too_old")
    assert refused([make_proof(key, svc["htu"], nonce)] * 2) == \
        ("invalid_dpop_proof", "dpop.proof_multiple")
    assert refused([make_proof(key, svc["htu"], "bm90LWEtbm9uY2U")]) == \
        ("use_dpop_nonce", "dpop.nonce_invalid")

    # A valid proof whose form carries evidence of type none: never a token.
    none_message = b"\x10none\x00"  # SCALE: compact len 4 "none", empty Vec<u8>
    form = (body + "&subject_token_type=" + urllib.parse.quote(SUBJECT_TYPE, safe="") +
            "&subject_token=" + b64url(none_message))
    proof = make_proof(key, svc["htu"], nonce)
    assert refused([proof], form) == ("invalid_grant", "sts.requester_unattested")
    # The same proof again is a replay, whatever the form.
    assert refused([proof], form) == ("invalid_dpop_proof", "dpop.replayed")

    metadata = https_get(svc, "/.well-known/oauth-authorization-server")
    assert metadata["issuer"] == f"https://127.0.0.1:{svc['port']}"
    assert metadata["token_endpoint"] == svc["endpoint"]
    assert metadata["grant_types_supported"] == [GRANT]
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]

    text = metrics(svc)
    assert metric_value(text, "atls_token_requests_rejected_total", reason="dpop.replayed") == 1
    assert metric_value(text, "atls_token_dpop_nonces_issued_total") >= 2


def test_sighup_reloads_the_policy(service, tmp_path):
    """A new policy applies to the next exchange (docs/token-service.md "Operations")."""
    svc = service
    assert get_token(svc, measurement=OTHER).returncode == 4
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"measurement_id": "new-build", "attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected": OTHER}}}]))
    svc["process"].proc.send_signal(signal.SIGHUP)
    svc["process"].wait_for("policy reloaded")
    result = get_token(svc, measurement=OTHER)
    assert result.returncode == 0, result.stderr.decode()
    keys = jwk.JWKSet.from_json(json.dumps(https_get(svc, "/jwks")))
    claims = json.loads(jwt.JWT(jwt=json.loads(result.stdout)["access_token"], key=keys).claims)
    assert claims["sub"] == "new-build"
    # The old workload is refused now.
    assert get_token(svc, measurement=ACCEPTED).returncode == 4
