"""The flashbots-ratls/1 channel through the real binary (interop spec §1-§3, §6, §8.4):
exchange, ALPN refusal, certificate checks, timeouts, mutual attestation policy, policy files,
key forms, exit codes and environment variables."""
import json
import socket
import ssl
import threading
import time

import pytest

from conftest import BIN, curl, run, start_client, start_server

NONE_POLICY = ("--allowed-remote-attestation-type", "none")


def pem_blocks(text):
    return [b.strip() for b in text.split("-----END CERTIFICATE-----") if "BEGIN" in b]


def server_with_cert(procs, target, pki, *extra, dns=(), ips=("127.0.0.1",), kind="ec"):
    ca = pki.ca()
    leaf = pki.leaf(ca, "server", dns=dns, ips=ips, kind=kind)
    process, port = start_server(procs, target, "--tls-certificate-path", leaf["cert"],
                                 "--tls-private-key-path", leaf["key"], *extra)
    return ca, leaf, process, port


def test_none_on_both_sides_carries_requests(procs, target):
    server, server_port = start_server(procs, target)
    client, client_port = start_client(procs, server_port)
    result = curl("-D", "-", f"http://127.0.0.1:{client_port}/headers")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200")
    assert "x-flashbots-attestation-type: none" in head.lower()
    seen = json.loads(body)["headers"]
    assert seen["x-flashbots-attestation-type"] == ["none"]
    assert "x-flashbots-measurement" not in seen
    assert "channel from 127.0.0.1" in server.log


def test_get_tls_cert_prints_the_verified_chain(procs, target, pki, tmp_path):
    ca, leaf, _, port = server_with_cert(procs, target, pki)
    out = tmp_path / "measurements.json"
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate", ca["cert"],
                  *NONE_POLICY, "--out-measurements", out])
    assert result.returncode == 0, result.stderr.decode()
    printed = result.stdout.decode()
    assert pem_blocks(printed) == pem_blocks(leaf["cert"].read_text())
    assert printed.endswith("-----END CERTIFICATE-----\n\n")  # a blank line after each block
    assert out.read_text() == "{}"


def test_peer_without_ratls_alpn_is_refused(procs, target, pki):
    ca, _, server, port = server_with_cert(procs, target, pki)
    # Offering only h2: no overlap -> fatal no_application_protocol alert (RFC 7301 §3.2).
    wrong = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-alpn", "h2",
                 "-CAfile", ca["cert"]], input=b"", timeout=20)
    assert wrong.returncode != 0
    assert b"no application protocol" in wrong.stdout + wrong.stderr
    # Offering no ALPN at all: the handshake completes, then the channel is refused.
    bare = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca["cert"]],
               input=b"", timeout=20)
    assert b"No ALPN negotiated" in bare.stdout
    server.wait_for(r"refused: ratls\.alpn_missing")


def test_wrong_ca_is_refused(procs, target, pki):
    _, _, _, port = server_with_cert(procs, target, pki)
    other = pki.ca("Other CA")
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate",
                  other["cert"], *NONE_POLICY])
    assert result.returncode == 3, result.stderr.decode()
    assert b"certificate verify failed" in result.stderr
    # The proxy-client treats a certificate it cannot verify as a configuration error.
    client = procs.start([BIN, "client", f"127.0.0.1:{port}", "-l", "127.0.0.1:0",
                          "--client-attestation-type", "none", *NONE_POLICY,
                          "--tls-ca-certificate", other["cert"]])
    assert client.proc.wait(20) == 3
    assert "certificate verify failed" in client.log


def test_server_name_is_verified(procs, target, pki):
    ca, _, _, port = server_with_cert(procs, target, pki, dns=("localhost",), ips=())
    by_ip = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate", ca["cert"],
                 *NONE_POLICY])
    assert by_ip.returncode == 3
    assert b"certificate verify failed" in by_ip.stderr
    by_name = run([BIN, "get-tls-cert", f"localhost:{port}", "--tls-ca-certificate", ca["cert"],
                   *NONE_POLICY])
    assert by_name.returncode == 0, by_name.stderr.decode()


def test_self_signed_needs_opt_in(procs, target):
    _, port = start_server(procs, target)  # no certificate given: ephemeral self-signed
    strict = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", *NONE_POLICY])
    assert strict.returncode == 3
    relaxed = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--allow-self-signed",
                   *NONE_POLICY])
    assert relaxed.returncode == 0, relaxed.stderr.decode()


def test_client_that_stalls_mid_exchange_times_out(procs, target, pki):
    ca, _, server, port = server_with_cert(procs, target, pki, "--handshake-timeout", "1")
    context = ssl.create_default_context(cafile=str(ca["cert"]))
    context.set_alpn_protocols(["flashbots-ratls/1"])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.recv(10) == bytes.fromhex("00000006106e6f6e6500")  # §2.3 example 1
            started = time.monotonic()
            server.wait_for(r"refused: ratls\.exchange_timeout", timeout=10)
            assert time.monotonic() - started < 8


def test_server_that_stalls_mid_exchange_times_out(pki, tmp_path):
    ca = pki.ca()
    leaf = pki.leaf(ca, "stall", ips=("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(leaf["cert"]), str(leaf["key"]))
    context.set_alpn_protocols(["flashbots-ratls/1"])
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held = []

    def serve():
        connection, _ = listener.accept()
        held.append(context.wrap_socket(connection, server_side=True))  # handshake, then silence

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started = time.monotonic()
    result = run([BIN, "--handshake-timeout", "1", "get-tls-cert", f"127.0.0.1:{port}",
                  "--tls-ca-certificate", ca["cert"], *NONE_POLICY])
    assert result.returncode == 3, result.stderr.decode()
    assert b"ratls.exchange_timeout" in result.stderr
    assert time.monotonic() - started < 10
    listener.close()


def test_server_requiring_attestation_refuses_unattested_client(procs, target):
    server, server_port = start_server(procs, target,
                                       policy=("--allowed-remote-attestation-type", "dcap-tdx"))
    _, client_port = start_client(procs, server_port, "--request-wait", "2")
    server.wait_for(r"refused: ratls\.attestation_type_not_accepted")
    result = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{client_port}/")
    assert result.stdout == b"502"


def test_client_requiring_attestation_refuses_unattested_server(procs, target):
    _, server_port = start_server(procs, target)
    client = procs.start([BIN, "client", f"127.0.0.1:{server_port}", "-l", "127.0.0.1:0",
                          "--client-attestation-type", "none",
                          "--allowed-remote-attestation-type", "dcap-tdx",
                          "--allow-self-signed"])
    assert client.proc.wait(20) == 4
    assert "ratls.attestation_type_not_accepted" in client.log


def test_measurements_file_forms(procs, target, tmp_path):
    good = tmp_path / "none.json"
    good.write_text('[{"measurement_id": "dev", "attestation_type": "none"}]')
    _, server_port = start_server(procs, target, policy=("--measurements-file", good))
    _, client_port = start_client(procs, server_port, policy=("--measurements-file", good))
    assert curl(f"http://127.0.0.1:{client_port}/measurement").stdout == b"No measurements"

    bad = tmp_path / "typo.json"
    bad.write_text('[{"attestation_type": "dcap-tdx", "measurments": {}}]')
    result = run([BIN, "get-tls-cert", "127.0.0.1:1", "--measurements-file", bad])
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "policy.unknown_field" in message and "typo.json" in message
    assert "record 1" in message and "measurments" in message

    short = tmp_path / "short.json"
    short.write_text('[{"attestation_type": "dcap-tdx", "measurements": {"mrtd": {"expected": "00"}}}]')
    result = run([BIN, "get-tls-cert", "127.0.0.1:1", "--measurements-file", short])
    assert result.returncode == 2 and b"policy.bad_length" in result.stderr


def test_measurements_from_a_loopback_url(procs, target, tmp_path):
    policy = tmp_path / "served" / "policy.json"
    policy.parent.mkdir()
    policy.write_text('[{"attestation_type": "none"}]')
    web = procs.start(["/usr/bin/python3", "-m", "http.server", "0", "--bind", "127.0.0.1",
                       "--directory", policy.parent], name="policy-server")
    web_port = int(web.wait_for(r"port (\d+)").group(1))
    _, server_port = start_server(procs, target)
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{server_port}", "--allow-self-signed",
                  "--measurements-file", f"http://127.0.0.1:{web_port}/policy.json"])
    assert result.returncode == 0, result.stderr.decode()
    insecure = run([BIN, "get-tls-cert", f"127.0.0.1:{server_port}",
                    "--measurements-file", "http://example.invalid/policy.json"])
    assert insecure.returncode == 2 and b"policy.insecure_url" in insecure.stderr


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "ec-sec1", "rsa"])
def test_server_key_forms(procs, target, pki, kind):
    ca, _, _, port = server_with_cert(procs, target, pki, kind=kind)
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate", ca["cert"],
                  *NONE_POLICY])
    assert result.returncode == 0, result.stderr.decode()


def test_usage_errors_exit_2(tmp_path):
    assert run([BIN, "server"]).returncode == 2  # missing target
    both = run([BIN, "get-tls-cert", "127.0.0.1:1", "--allowed-remote-attestation-type", "none",
                "--measurements-file", tmp_path / "x.json"])
    assert both.returncode == 2 and b"policy.policy_option_conflict" in both.stderr
    neither = run([BIN, "get-tls-cert", "127.0.0.1:1"])
    assert neither.returncode == 2
    one_of_two = run([BIN, "server", "127.0.0.1:1", "--allowed-remote-attestation-type", "none",
                      "--tls-certificate-path", tmp_path / "x.crt"])
    assert one_of_two.returncode == 2 and b"must be given together" in one_of_two.stderr
    bad_type = run([BIN, "server", "127.0.0.1:1", "--allowed-remote-attestation-type", "none",
                    "--server-attestation-type", "sgx"])
    assert bad_type.returncode == 2 and b"attest.unknown_attestation_type" in bad_type.stderr


def test_connection_refused_exits_3():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", *NONE_POLICY])
    assert result.returncode == 3 and b"net.connect_failed" in result.stderr


def test_flags_from_environment(procs, target, pki, tmp_path):
    ca = pki.ca()
    leaf = pki.leaf(ca, "server", ips=("127.0.0.1",))
    policy = tmp_path / "none.json"
    policy.write_text('[{"attestation_type": "none"}]')
    env = {"LISTEN_ADDR": "127.0.0.1:0", "SERVER_ATTESTATION_TYPE": "none",
           "TLS_CERTIFICATE_PATH": str(leaf["cert"]), "TLS_PRIVATE_KEY_PATH": str(leaf["key"]),
           "MEASUREMENTS_FILE": str(policy)}
    server = procs.start([BIN, "server", f"127.0.0.1:{target}"], env=env)
    port = server.listen_port("proxy-server")
    result = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate", ca["cert"]],
                 env={"MEASUREMENTS_FILE": str(policy), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("command", ["server", "client", "get-tls-cert", "attested-get",
                                     "attested-file-server"])
def test_every_subcommand_has_help(command):
    result = run([BIN, command, "--help"])
    assert result.returncode == 0
    assert b"--measurements-file" in result.stdout or b"Usage" in result.stdout


def test_client_certificates_with_client_auth(procs, target, pki):
    ca = pki.ca()
    server_leaf = pki.leaf(ca, "server", ips=("127.0.0.1",))
    client_leaf = pki.leaf(ca, "client", dns=("client.test",), client=True)
    server, port = start_server(procs, target, "--tls-certificate-path", server_leaf["cert"],
                                "--tls-private-key-path", server_leaf["key"], "--client-auth",
                                "--client-ca-certificate", ca["cert"])
    _, client_port = start_client(procs, port, tls=(
        "--tls-ca-certificate", ca["cert"], "--tls-certificate-path", client_leaf["cert"],
        "--tls-private-key-path", client_leaf["key"]))
    assert curl(f"http://127.0.0.1:{client_port}/measurement").stdout == b"No measurements"
    # Without a client certificate the server refuses the handshake.
    refused = run([BIN, "get-tls-cert", f"127.0.0.1:{port}", "--tls-ca-certificate", ca["cert"],
                   *NONE_POLICY])
    assert refused.returncode == 3
    server.wait_for(r"channel from 127\.0\.0\.1:\d+ refused")
