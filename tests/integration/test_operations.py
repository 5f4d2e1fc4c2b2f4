"""Operations through the real binary: admin endpoints (/health, /attestation/ready, /metrics
validated by promtool), the hash-chained audit log and `audit verify` (tamper detection),
graceful drain on SIGTERM, measurement drift, and re-attestation by max attestation age."""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BIN, admin_port, curl, get, io_backend, metric_value, run, start_client,
                      start_server, wait_accepted)

PROMTOOL = shutil.which("promtool")


def test_admin_endpoints_metrics_and_promtool(procs, target):
    server, server_port = start_server(procs, target, "--admin-listen-addr", "127.0.0.1:0")
    admin = f"http://127.0.0.1:{admin_port(server)}"
    _, client_port = start_client(procs, server_port)

    status, body = get(f"{admin}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = get(f"{admin}/attestation/ready")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] is True, body
    assert ready["checks"]["attester"]["ok"] and ready["checks"]["policy"]["ok"]
    assert get(f"{admin}/nope")[0] == 404
    assert curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                f"{admin}/metrics").stdout == b"405"

    # Admin endpoints under load: scrapes and proxied requests at the same time all succeed.
    def proxied(_):
        return get(f"http://127.0.0.1:{client_port}/status?code=200")[0]

    def scrape(_):
        return get(f"{admin}/metrics")[0]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        proxied_results = list(pool.map(proxied, range(60)))
        scrape_results = list(pool.map(scrape, range(60)))
    assert proxied_results == [200] * 60
    assert scrape_results == [200] * 60

    status, text = get(f"{admin}/metrics")
    assert status == 200
    assert metric_value(text, "atls_attestation_verifications_total",
                        role="server", type="none", result="unattested") == 1
    assert metric_value(text, "atls_channels_active", role="server") == 1
    assert metric_value(text, "atls_backend_requests_total", code="2xx") == 60
    assert metric_value(text, "atls_channel_handshake_seconds_count", role="server") == 1
    assert metric_value(text, "atls_build_info", version="0.1.0", io_backend=io_backend()) == 1
    if PROMTOOL is None:
        pytest.fail("promtool not installed (scripts/install-deps.sh installs prometheus)")
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_rejections_are_counted_by_named_reason(procs, target, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"measurement_id": "only-tdx", "attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected": "ab" * 48}}}]))
    server, server_port = start_server(procs, target, "--admin-listen-addr", "127.0.0.1:0",
                                       policy=("--measurements-file", policy))
    admin = f"http://127.0.0.1:{admin_port(server)}"
    # A client that does not attest: the server refuses it under its policy.
    result = run([BIN, "attested-get", f"127.0.0.1:{server_port}", "--allow-self-signed",
                  "--allowed-remote-attestation-type", "none"], timeout=30)
    assert result.returncode != 0
    server.wait_for("refused")
    text = get(f"{admin}/metrics")[1]
    assert metric_value(text, "atls_policy_violations_total", role="server",
                        reason="ratls.attestation_type_not_accepted") == 1, text
    assert metric_value(text, "atls_attestation_verifications_total", role="server",
                        type="none", result="rejected") == 1


def test_audit_log_chain_and_tamper_detection(procs, target, tmp_path):
    audit = tmp_path / "audit.json"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"attestation_type": "none"}]))
    server, server_port = start_server(procs, target, "--audit-log", audit,
                                       policy=("--measurements-file", policy))
    for _ in range(3):
        result = run([BIN, "attested-get", f"127.0.0.1:{server_port}", "--allow-self-signed",
                      "--url-path", "/status?code=200",
                      "--allowed-remote-attestation-type", "none"], timeout=30)
        assert result.returncode == 0, result.stderr.decode()
    assert server.stop() == 0  # the audit log is flushed on exit

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == 3
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert all(r["event"] == "channel" and r["decision"] == "accepted_unattested"
               and r["role"] == "server" and r["peer_type"] == "none" for r in records)
    ok = run([BIN, "audit", "verify", audit])
    assert ok.returncode == 0, ok.stderr.decode()
    assert b"3 records" in ok.stdout

    original = audit.read_text().splitlines(keepends=True)

    def verify_tampered(lines):
        audit.write_text("".join(lines))
        result = run([BIN, "audit", "verify", audit])
        audit.write_text("".join(original))
        return result.returncode, result.stderr.decode()

    edited = list(original)
    edited[0] = edited[0].replace('"accepted_unattested"', '"accepted"')
    code, err = verify_tampered(edited)
    assert code == 6 and "audit.hash_mismatch" in err, err
    code, err = verify_tampered([original[0], original[2]])
    assert code == 6 and "audit.sequence_gap" in err, err
    code, err = verify_tampered([original[0], original[2], original[1]])
    assert code == 6 and "audit.sequence_reordered" in err, err
    code, err = verify_tampered(original[:2])
    assert code == 6 and "audit.truncated" in err, err
    code, err = verify_tampered(original[:2] + [original[2][:40]])
    assert code == 6 and "audit.truncated" in err, err


@pytest.mark.parametrize("inner", ["h2", "http/1.1"])
def test_sigterm_drains_in_flight_requests(procs, target, inner):
    server, server_port = start_server(procs, target, "--inner-alpn", inner)
    client, client_port = start_client(procs, server_port)
    results = {}

    def slow(name):
        results[name] = get(f"http://127.0.0.1:{client_port}/slow?ms=4000")[0]

    workers = [threading.Thread(target=slow, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    # Let the requests reach the target (with HTTP/1.1 inside, each needs its own attested
    # channel first; a request still looking for a channel when the server stops accepting
    # fails, as it would with any server going away).
    time.sleep(2.0)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(20) == 0
    for worker in workers:
        worker.join(20)
    assert results == {0: 200, 1: 200, 2: 200, 3: 200}
    assert time.monotonic() - started < 12  # it did not wait for the whole drain timeout
    assert "draining" in server.log


def test_client_sigterm_drains_in_flight_requests(procs, target):
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(get(f"http://127.0.0.1:{client_port}/slow?ms=2000")[0]))
    started_url = f"http://127.0.0.1:{target}/slow/started"
    before = int(get(started_url)[1])
    worker.start()
    # Signal once the request is in flight at the target, not after a fixed sleep: under load
    # the request may not even have been sent 0.6 s after the thread started (seen once).
    deadline = time.monotonic() + 10
    while int(get(started_url)[1]) == before:
        assert time.monotonic() < deadline, "the request never reached the target"
        time.sleep(0.05)
    client.proc.send_signal(signal.SIGTERM)
    assert client.proc.wait(20) == 0
    worker.join(20)
    assert results == [200]


def test_client_sigterm_serves_a_request_whose_head_arrives_later(procs, target):
    """A source connection accepted before SIGTERM whose request is still arriving gets its
    answer (with Connection: close): the channel closes only after the source connections."""
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port)
    with socket.create_connection(("127.0.0.1", client_port), timeout=15) as sock:
        sock.sendall(b"GET /status?code=200 HTTP/1.1\r\nHost: example\r\n")
        wait_accepted(client, sock, read_all=True)  # the connection is busy, not idle
        client.proc.send_signal(signal.SIGTERM)
        client.wait_for("draining", timeout=10)
        time.sleep(0.3)  # before the fix the channel closed at once and the process exited
        sock.sendall(b"\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response
    assert b"connection: close" in head.lower()
    assert body == b"status 200"
    assert client.proc.wait(20) == 0


def h2_frames(data):
    """(type, flags, stream id, payload) of each whole HTTP/2 frame in `data` (RFC 9113 §4.1)."""
    frames, offset = [], 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        stream = int.from_bytes(data[offset + 5:offset + 9], "big") & 0x7FFFFFFF
        frames.append((data[offset + 3], data[offset + 4], stream,
                       data[offset + 9:offset + 9 + length]))
        offset += 9 + length
    return frames


def test_client_sigterm_sends_goaway_to_idle_h2_sources(procs, target):
    """An idle HTTP/2 (prior knowledge) source connection gets GOAWAY when draining starts, so
    the proxy-client does not wait out --drain-timeout (30 s) for it."""
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port)
    with socket.create_connection(("127.0.0.1", client_port), timeout=15) as sock:
        # RFC 9113 §3.4: the preface, then an empty SETTINGS frame.
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        received = sock.recv(65536)  # the server's SETTINGS: the session is up
        assert received[3] == 4, received
        started = time.monotonic()
        client.proc.send_signal(signal.SIGTERM)
        while chunk := sock.recv(65536):
            received += chunk
    frame_types = [kind for kind, _, _, _ in h2_frames(received)]
    assert 7 in frame_types, frame_types  # GOAWAY, then the connection closed
    assert client.proc.wait(20) == 0
    assert time.monotonic() - started < 10


def test_client_sigterm_serves_h2_streams_that_came_with_the_preface(procs, target):
    """An HTTP/2 source connection accepted before SIGTERM whose preface and first request
    arrive during the drain: the GOAWAY names that stream as processed, and it is answered."""
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port)
    with socket.create_connection(("127.0.0.1", client_port), timeout=15) as sock:
        wait_accepted(client, sock)  # accepted, nothing sent yet
        client.proc.send_signal(signal.SIGTERM)
        client.wait_for("draining", timeout=10)
        # HPACK (RFC 7541): :method GET (static 2), :scheme http (6), then :path and
        # :authority as literals without indexing with static names 4 and 1.
        path, authority = b"/status?code=200", b"example"
        block = (bytes([0x82, 0x86, 0x04, len(path)]) + path + bytes([0x01, len(authority)]) +
                 authority)
        headers = len(block).to_bytes(3, "big") + bytes([1, 0x05]) + (1).to_bytes(4, "big")
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]) +
                     headers + block)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    frames = h2_frames(received)
    goaways = [payload for kind, _, _, payload in frames if kind == 7]
    assert goaways and int.from_bytes(goaways[0][:4], "big") == 1, frames  # last stream 1
    answers = [payload for kind, _, stream, payload in frames if kind == 1 and stream == 1]
    assert answers and answers[0][:1] == b"\x88", frames  # :status 200 (static index 8)
    assert client.proc.wait(20) == 0


def test_server_sigterm_closes_idle_http1_channels_at_once(procs, target):
    """With HTTP/1.1 inside the channel, a channel waiting for its next request is closed as
    soon as draining starts, so the proxy-server does not wait out --drain-timeout (30 s)."""
    server, server_port = start_server(procs, target, "--inner-alpn", "http/1.1")
    _, client_port = start_client(procs, server_port)
    for _ in range(3):
        assert get(f"http://127.0.0.1:{client_port}/status?code=200") == (200, "status 200")
    time.sleep(0.2)  # the channels are idle now
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(20) == 0
    assert time.monotonic() - started < 10




def test_measurement_drift_is_recorded(procs, target, mock_tee, tmp_path):
    first, second = "11" * 48, "22" * 48
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"measurement_id": "either", "attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected_any": [first, second]}}}]))
    (mock_tee / "tdx-measurements.json").write_text(json.dumps({"mrtd": first}))
    server, server_port = start_server(procs, target, "--insecure-mock-tee", mock_tee,
                                       attestation="dcap-tdx")
    audit = tmp_path / "client-audit.json"
    client, client_port = start_client(procs, server_port, "--insecure-trust-mock-tee", mock_tee,
                                       "--admin-listen-addr", "127.0.0.1:0", "--audit-log", audit,
                                       policy=("--measurements-file", policy))
    admin = f"http://127.0.0.1:{admin_port(client)}"
    assert get(f"http://127.0.0.1:{client_port}/status?code=200")[0] == 200

    # The server restarts on the same address with a different (still accepted) workload.
    assert server.stop() == 0
    (mock_tee / "tdx-measurements.json").write_text(json.dumps({"mrtd": second}))
    replacement = procs.start([BIN, "server", f"127.0.0.1:{target}", "--listen-addr",
                               f"127.0.0.1:{server_port}", "--server-attestation-type", "dcap-tdx",
                               "--insecure-mock-tee", mock_tee,
                               "--allowed-remote-attestation-type", "none"], name="proxy-server-2")
    replacement.listen_port("proxy-server")
    client.wait_for(r"measurement drift", timeout=30)
    text = get(f"{admin}/metrics")[1]
    assert metric_value(text, "atls_measurement_drift_detected_total", role="client") == 1, text
    assert get(f"http://127.0.0.1:{client_port}/status?code=200")[0] == 200
    assert client.stop() == 0
    drift = [json.loads(line) for line in audit.read_text().splitlines()
             if json.loads(line)["event"] == "measurement_drift"]
    assert len(drift) == 1
    assert drift[0]["previous_measurements"]["0"] == first
    assert drift[0]["measurements"]["0"] == second


def test_max_attestation_age_renews_the_channel_without_failed_requests(procs, target):
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port, "--max-attestation-age", "1.5")
    statuses = []
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        statuses.append(get(f"http://127.0.0.1:{client_port}/status?code=200")[0])
        time.sleep(0.05)
    assert set(statuses) == {200}, statuses
    assert len(re.findall(r"attested channel to .* established", client.log)) >= 3
    assert "re-attesting on a new channel" in client.log
    assert "lost" not in client.log  # the old channels were retired, not broken


def test_sighup_reloads_the_policy_and_keeps_the_old_one_when_invalid(procs, target, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"attestation_type": "none"}]))
    server, server_port = start_server(procs, target, "--admin-listen-addr", "127.0.0.1:0",
                                       policy=("--measurements-file", policy))
    admin = f"http://127.0.0.1:{admin_port(server)}"
    _, client_port = start_client(procs, server_port)

    def attested_get():
        return run([BIN, "attested-get", f"127.0.0.1:{server_port}", "--allow-self-signed",
                    "--url-path", "/status?code=200",
                    "--allowed-remote-attestation-type", "none"], timeout=30).returncode

    # Load through the established channel while the policy changes in a way that still
    # accepts this client: no request fails, the open channel passes the re-check.
    stop = threading.Event()
    statuses = []

    def load():
        while not stop.is_set():
            statuses.append(get(f"http://127.0.0.1:{client_port}/status?code=200")[0])

    loader = threading.Thread(target=load)
    loader.start()
    try:
        assert attested_get() == 0
        policy.write_text(json.dumps([{"attestation_type": "none"},
                                      {"attestation_type": "dcap-tdx",
                                       "measurements": {"mrtd": {"expected": "ab" * 48}}}]))
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(r"open channels re-checked, 0 closed")
        assert attested_get() == 0
        time.sleep(0.5)
    finally:
        stop.set()
        loader.join(30)
    assert statuses and set(statuses) == {200}, statuses

    # A stricter policy: unattested clients are refused from now on, and the open channel of
    # the unattested proxy-client is closed gracefully.
    policy.write_text(json.dumps([{"attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected": "ab" * 48}}}]))
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for(r"open channels re-checked, 1 closed")
    assert "the new policy refuses" in server.log
    assert attested_get() != 0
    deadline = time.monotonic() + 15
    while get(f"http://127.0.0.1:{client_port}/status?code=200")[0] != 502:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # An invalid file is rejected; the stricter policy stays in force.
    policy.write_text("[{not json")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for(r"reload rejected \(policy\)")
    assert attested_get() != 0
    text = get(f"{admin}/metrics")[1]
    assert metric_value(text, "atls_config_reloads_total", result="success") == 2
    assert metric_value(text, "atls_config_reloads_total", result="failure") == 1
    # Back to accepting unattested clients: the proxy-client's reconnection succeeds.
    policy.write_text(json.dumps([{"attestation_type": "none"}]))
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while attested_get() != 0 or get(f"http://127.0.0.1:{client_port}/status?code=200")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_client_sighup_retires_a_channel_the_new_policy_refuses(procs, target, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"attestation_type": "none"}]))
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port, policy=("--measurements-file", policy))
    assert get(f"http://127.0.0.1:{client_port}/status?code=200")[0] == 200
    # The server is unattested; the client's new policy requires TDX.
    policy.write_text(json.dumps([{"attestation_type": "dcap-tdx",
                                   "measurements": {"mrtd": {"expected": "ab" * 48}}}]))
    client.proc.send_signal(signal.SIGHUP)
    client.wait_for("the new policy refuses")
    deadline = time.monotonic() + 15
    while get(f"http://127.0.0.1:{client_port}/status?code=200")[0] != 502:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_connection_limit_and_idle_timeout(procs, target):
    _, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port, "--max-connections", "2",
                                       "--idle-timeout", "1", "--admin-listen-addr", "127.0.0.1:0")
    admin = f"http://127.0.0.1:{admin_port(client)}"
    request = b"GET /status?code=200 HTTP/1.1\r\nHost: x\r\n\r\n"

    def connect():
        """A kept-alive connection that has carried one complete exchange."""
        sock = socket.create_connection(("127.0.0.1", client_port), timeout=10)
        sock.sendall(request)
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            assert chunk, response
            response += chunk
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(body) < length:
            chunk = sock.recv(4096)
            assert chunk, body
            body += chunk
        return sock

    held = [connect(), connect()]
    # A third connection is closed right after accept: reading gives EOF (or a reset).
    extra = socket.create_connection(("127.0.0.1", client_port), timeout=10)
    try:
        extra.sendall(request)
        assert extra.recv(4096) == b""
    except ConnectionResetError:
        pass
    extra.close()
    status, text = get(f"{admin}/metrics")
    assert metric_value(text, "atls_connections_refused_total", listener="local") >= 1
    # --idle-timeout 1: the held keep-alive connections are closed by the proxy ...
    for sock in held:
        sock.settimeout(10)
        started = time.monotonic()
        assert sock.recv(4096) == b""
        assert time.monotonic() - started < 5
        sock.close()
    # ... which frees their places (the slot goes with the connection's coroutine, right after
    # the close we just saw).
    deadline = time.monotonic() + 5
    while True:
        try:
            connect().close()
            break
        except (AssertionError, ConnectionResetError):
            assert time.monotonic() < deadline
            time.sleep(0.1)


def served_leaf_pem(port, ca_file):
    """The leaf certificate a new TLS connection to `port` is given (PEM)."""
    result = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-alpn",
                  "flashbots-ratls/1+h2", "-CAfile", ca_file, "-verify_return_error"],
                 input=b"", timeout=20)
    text = result.stdout.decode()
    assert "Verify return code: 0 (ok)" in text, text
    begin = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return text[begin:end]


def test_sighup_reloads_the_certificate_for_new_connections_only(procs, target, pki, tmp_path):
    ca = pki.ca()
    first, second = pki.leaf(ca, "first", ips=("127.0.0.1",)), pki.leaf(ca, "second",
                                                                         ips=("127.0.0.1",))
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    shutil.copy(first["cert"], cert)
    shutil.copy(first["key"], key)
    server, server_port = start_server(procs, target, "--tls-certificate-path", cert,
                                       "--tls-private-key-path", key,
                                       "--admin-listen-addr", "127.0.0.1:0")
    admin = f"http://127.0.0.1:{admin_port(server)}"
    _, client_port = start_client(procs, server_port, tls=("--tls-ca-certificate", ca["cert"]))
    assert get(f"http://127.0.0.1:{client_port}/status?code=200")[0] == 200
    assert served_leaf_pem(server_port, ca["cert"]) in first["cert"].read_text()

    # Rotated files + SIGHUP: new connections get the new certificate; the proxy-client's open
    # channel (made with the old one) keeps carrying requests.
    shutil.copy(second["cert"], cert)
    shutil.copy(second["key"], key)
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for("TLS certificate reloaded")
    assert served_leaf_pem(server_port, ca["cert"]) in second["cert"].read_text()
    assert get(f"http://127.0.0.1:{client_port}/status?code=200")[0] == 200
    established = re.findall(r"channel from 127\.0\.0\.1:\d+ \(", server.log)
    assert len(established) == 1, server.log_tail()  # no reconnect was needed

    # A key that does not match the certificate rejects the whole reload: the second
    # certificate stays in force.
    shutil.copy(first["key"], key)
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for(r"reload rejected \(TLS certificate\)")
    assert served_leaf_pem(server_port, ca["cert"]) in second["cert"].read_text()
    text = get(f"{admin}/metrics")[1]
    assert metric_value(text, "atls_config_reloads_total", result="success") == 1
    assert metric_value(text, "atls_config_reloads_total", result="failure") == 1


ACCEPT_NONE = json.dumps([{"attestation_type": "none"}])
REQUIRE_TDX = json.dumps([{"attestation_type": "dcap-tdx",
                           "measurements": {"mrtd": {"expected": "ab" * 48}}}])


def attested_get_status(port, tls=("--allow-self-signed",)):
    return run([BIN, "attested-get", f"127.0.0.1:{port}", *tls,
                "--url-path", "/status?code=200", "--allowed-remote-attestation-type", "none"],
               timeout=30).returncode


def wait_for_count(process, text, count, timeout=15.0):
    deadline = time.monotonic() + timeout
    while process.log.count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count}:\n{process.log_tail()}"
        time.sleep(0.05)


def test_sighup_rereads_the_config_file(procs, target, pki, tmp_path):
    ca = pki.ca()
    first, second = (pki.leaf(ca, name, ips=("127.0.0.1",)) for name in ("first", "second"))
    accept_none, require_tdx = tmp_path / "accept-none.json", tmp_path / "require-tdx.json"
    accept_none.write_text(ACCEPT_NONE)
    require_tdx.write_text(REQUIRE_TDX)
    config = tmp_path / "server.yaml"
    trusted = ("--tls-ca-certificate", ca["cert"])

    def write_config(policy, leaf, level="info", listen="127.0.0.1:0"):
        config.write_text(f"""
mode: server
proxy: {{listen: "{listen}", backend: "127.0.0.1:{target}"}}
attestation:
  provider: none
  policy: {{measurements_file: "{policy}"}}
logging: {{level: {level}}}
server:
  tls-certificate-path: "{leaf['cert']}"
  tls-private-key-path: "{leaf['key']}"
""")

    write_config(accept_none, first)
    server = procs.start([BIN, "--config", config, "--admin-listen-addr", "127.0.0.1:0"],
                         name="proxy-server")
    port = server.listen_port("proxy-server")
    admin = f"http://127.0.0.1:{admin_port(server)}"
    assert attested_get_status(port, trusted) == 0
    assert served_leaf_pem(port, ca["cert"]) in first["cert"].read_text()
    assert " debug " not in server.log

    # The file now names another policy, other certificate files, debug logging and a new
    # listen address: all but the address apply at once, the address needs a restart.
    write_config(require_tdx, second, level="debug", listen="127.0.0.1:1")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for(r"only after a restart .*: server --listen-addr$")
    server.wait_for("TLS certificate reloaded")
    assert served_leaf_pem(port, ca["cert"]) in second["cert"].read_text()
    assert attested_get_status(port, trusted) == 4  # the new policy refuses unattested peers

    # A file that no longer parses is rejected whole: the last good settings stay.
    config.write_text(config.read_text() + "bogus: 1\n")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for(r"reload rejected \(config file .*server\.yaml\): cli\.config_invalid: .*"
                    r"line 11: unknown key 'bogus'")
    assert attested_get_status(port, trusted) == 4
    assert served_leaf_pem(port, ca["cert"]) in second["cert"].read_text()

    write_config(accept_none, second, level="debug")
    server.proc.send_signal(signal.SIGHUP)
    wait_for_count(server, "policy reloaded", 2)
    assert attested_get_status(port, trusted) == 0
    server.wait_for(r" debug channel from 127\.0\.0\.1:\d+ ended")  # logging.level applied
    text = get(f"{admin}/metrics")[1]
    assert metric_value(text, "atls_config_reloads_total", result="success") == 2
    assert metric_value(text, "atls_config_reloads_total", result="failure") == 1


def test_reload_on_change_follows_edits_renames_and_the_config(procs, target, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(ACCEPT_NONE)
    server, port = start_server(procs, target, "--reload-on-change",
                                policy=("--measurements-file", policy))
    server.wait_for(r"reload on change: watching .*policy\.json")
    assert attested_get_status(port) == 0

    # Edited in place: reloaded without a signal.
    policy.write_text(REQUIRE_TDX)
    wait_for_count(server, "policy reloaded", 1)
    assert "a watched file changed: reloading" in server.log
    assert attested_get_status(port) == 4

    # Replaced by rename (editors, configuration management).
    staged = tmp_path / "policy.json.new"
    staged.write_text(ACCEPT_NONE)
    os.replace(staged, policy)
    wait_for_count(server, "policy reloaded", 2)
    assert attested_get_status(port) == 0

    # Other files in the directory are not the proxy's business.
    (tmp_path / "unrelated.txt").write_text("x")
    time.sleep(1.5)
    assert server.log.count("a watched file changed") == 2

    # A broken edit is rejected like a bad SIGHUP reload; fixing the file recovers.
    policy.write_text("[{not json")
    server.wait_for(r"reload rejected \(policy\)")
    assert attested_get_status(port) == 0
    policy.write_text(REQUIRE_TDX)
    wait_for_count(server, "policy reloaded", 3)
    assert attested_get_status(port) == 4


def test_reload_on_change_watches_the_files_the_config_names(procs, target, tmp_path):
    elsewhere = tmp_path / "policies"
    elsewhere.mkdir()
    first, second = tmp_path / "first.json", elsewhere / "second.json"
    first.write_text(ACCEPT_NONE)
    second.write_text(ACCEPT_NONE)
    config = tmp_path / "server.yaml"

    def write_config(policy):
        staged = tmp_path / "server.yaml.new"
        staged.write_text(f"""
mode: server
reload-on-change: true
proxy: {{listen: "127.0.0.1:0", backend: "127.0.0.1:{target}"}}
attestation: {{provider: none, policy: {{measurements_file: "{policy}"}}}}
""")
        os.replace(staged, config)

    write_config(first)
    server = procs.start([BIN, "--config", config], name="proxy-server")
    port = server.listen_port("proxy-server")
    server.wait_for(r"reload on change: watching .*server\.yaml, .*first\.json")
    # The config now names a policy in another directory: that one is watched from now on.
    write_config(second)
    server.wait_for(r"reload on change: watching .*server\.yaml, .*second\.json")
    second.write_text(REQUIRE_TDX)
    wait_for_count(server, "policy reloaded", 2)
    assert attested_get_status(port) == 4
