"""The YAML configuration file: the example files in config/, a pair run from files, precedence
(flags > environment > file), the seed schema's simulated provider, and errors with line
numbers."""
import json
import os
import pathlib

import pytest

from conftest import BIN, curl, run

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_configs_pass_config_check(example):
    result = run([BIN, "config", "check", example])
    assert result.returncode == 0, result.stderr.decode()
    assert b"config OK" in result.stdout


def write(path, text):
    path.write_text(text)
    return path


def test_example_server_config_runs_with_flag_overrides(procs, target, tmp_path):
    # The example as shipped, with flags overriding what cannot run here (flags > file).
    audit = tmp_path / "audit.json"
    server = procs.start([BIN, "--config", REPO / "config/http-server.yaml",
                          "--audit-log", audit, "--admin-listen-addr", "127.0.0.1:0",
                          "server", f"127.0.0.1:{target}", "--listen-addr", "127.0.0.1:0",
                          "--server-attestation-type", "none"], name="proxy-server")
    port = server.listen_port("proxy-server")
    assert '"level":"info"' in server.wait_for(r"admin endpoints").string  # logging.format: json
    result = run([BIN, "attested-get", f"127.0.0.1:{port}", "--allow-self-signed",
                  "--url-path", "/status?code=200", "--allowed-remote-attestation-type", "none"])
    assert result.returncode == 0, result.stderr.decode()
    assert server.stop() == 0
    assert json.loads(audit.read_text().splitlines()[0])["decision"] == "accepted_unattested"


def test_pair_from_config_files_with_mode_and_simulated_provider(procs, target, tmp_path):
    tee = tmp_path / "tee"
    made = run([BIN, "mock-tee", "init", tee], timeout=300)
    assert made.returncode == 0, made.stderr.decode()
    server_config = write(tmp_path / "server.yaml", f"""
mode: server
proxy:
  listen: "127.0.0.1:0"
  backend: {{host: "127.0.0.1", port: {target}}}
attestation:
  provider: simulated
  simulated: {{directory: "{tee}", type: sev-snp}}
  policy: {{allowed_remote_attestation_type: none}}
""")
    server = procs.start([BIN, "--config", server_config], name="proxy-server")
    server_port = server.listen_port("proxy-server")
    assert "INSECURE mock TEE" in server.log  # the loud warning for `simulated`
    policy = write(tmp_path / "policy.json", json.dumps(
        [{"measurement_id": "mock", "attestation_type": "sev-snp", "snp": {}}]))
    client_config = write(tmp_path / "client.yaml", f"""
mode: client
proxy:
  listen: "127.0.0.1:0"
  server: "127.0.0.1:{server_port}"
attestation:
  provider: none
  policy: {{measurements_file: "{policy}"}}
client:
  allow-self-signed: true
insecure-trust-mock-tee: "{tee}"
""")
    client = procs.start([BIN, "--config", client_config], name="proxy-client")
    client_port = client.listen_port("proxy-client")
    client.wait_for(r"attested channel to .* established")
    head = curl("-D", "-", "-o", "/dev/null", f"http://127.0.0.1:{client_port}/").stdout.decode()
    assert "x-flashbots-attestation-type: sev-snp" in head


def test_precedence_flags_then_environment_then_file(procs, target, tmp_path):
    config = write(tmp_path / "server.yaml", f"""
mode: server
proxy:
  listen: "127.0.0.1:1"
  backend: "127.0.0.1:{target}"
attestation:
  provider: none
  policy: {{allowed_remote_attestation_type: none}}
""")
    # The environment beats the file: LISTEN_ADDR replaces proxy.listen (port 1 would fail).
    env = dict(os.environ, LISTEN_ADDR="127.0.0.1:0")
    server = procs.start([BIN, "--config", config], env=env, name="proxy-server")
    assert server.listen_port("proxy-server") != 1
    # A flag beats the environment.
    env = dict(os.environ, LISTEN_ADDR="127.0.0.1:1")
    server = procs.start([BIN, "--config", config, "server", "--listen-addr", "127.0.0.1:0"],
                         env=env, name="proxy-server-2")
    assert server.listen_port("proxy-server") != 1


@pytest.mark.parametrize("text, message", [
    ("mode: server\nproxy:\n  listen: x\n  lisen: y\n", "line 4: unknown key 'proxy.lisen'"),
    ("mode: server\nbogus: 1\n", "line 2: unknown key 'bogus'"),
    ("mode: server\ntokens:\n  sts_url: x\n", "line 3: tokens.sts_url does not apply to 'server'"),
    ("mode: token-service\ntokens:\n  dpop_enabled: no\n", "line 3: tokens.dpop_enabled cannot be false"),
    ("mode: client\npolicy:\n  max_attestation_age: soon\n", "line 3: max_attestation_age"),
    ("mode: client\nattestation:\n  policy:\n    measurements:\n      - {name: k, hash: 'sha384:ab'}\n",
     "line 4: attestation.policy.measurements"),
    ("mode: server\nattestation:\n  provider: simulated\n", "line 3: attestation.provider: simulated needs"),
    ("mode: server\nattestation:\n  nonce_ttl: 300s\n", "line 3: attestation.nonce_ttl does not apply"),
    ("mode: server\nclient:\n  nope: 1\n", "line 3: unknown option 'nope' of 'client'"),
    ("mode: server\nproxy: [1, 2\n", "line 3"),
    ("mode: client\nproxy:\n  backend: {host: a, port: 1}\n", "proxy.backend does not apply to 'client'"),
])
def test_config_errors_name_the_line(tmp_path, text, message):
    config = write(tmp_path / "bad.yaml", text)
    check = run([BIN, "config", "check", config])
    assert check.returncode == 2 and message in check.stderr.decode(), check.stderr.decode()
    started = run([BIN, "--config", config], timeout=30)
    assert started.returncode == 2 and message in (started.stderr + started.stdout).decode()
