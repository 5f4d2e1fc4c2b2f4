"""Harness for the integration tests: the real atls-proxy binary, real curl/openssl, and the
target service in backends/target.py — all on 127.0.0.1 with ephemeral ports, all stopped at
the end of each test."""
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ATLS_PROXY_BIN", REPO / "build" / "dev" / "src" / "atls-proxy"))
PYTHON = "/usr/bin/python3"
TARGET = pathlib.Path(__file__).resolve().parent / "backends" / "target.py"
LISTEN_RE = re.compile(r"(proxy-server|proxy-client|attested-file-server|health check) listening on "
                       r"([0-9a-f.:\[\]]+):(\d+)")

sys.path.insert(0, str(TARGET.parent))


class Process:
    """A child process whose combined output is collected line by line."""

    def __init__(self, args, env=None, name=None, cwd=None):
        self.args = [str(a) for a in args]
        self.name = name or pathlib.Path(self.args[0]).name
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=cwd)
        self.lines = []
        self.killed = False  # set when a test kills the process on purpose
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=15.0, start=0):
        """Waits for a line matching `pattern` (a regex); returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    if match:
                        return match
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{self.name}: no line matching {pattern!r} within {timeout}s "
                        f"(exit {self.proc.poll()}); output:\n{self.log_tail()}")
                self._cond.wait(min(remaining, 0.2))

    def log_tail(self, n=60):
        return "\n".join(self.lines[-n:])

    def listen_port(self, kind, timeout=15.0):
        match = self.wait_for(rf"{kind} listening on ([0-9a-f.:\[\]]+):(\d+)", timeout)
        return int(match.group(2))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        if sig == signal.SIGKILL:
            self.killed = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=2)
        return self.proc.returncode


class Procs:
    def __init__(self):
        self.all = []

    def start(self, args, **kwargs):
        process = Process(args, **kwargs)
        self.all.append(process)
        return process

    def stop_all(self):
        """Stops everything; returns problems: an atls-proxy that did not exit cleanly on
        SIGTERM (a crash, or a leak reported by the sanitizers) or any sanitizer report."""
        problems = []
        for process in reversed(self.all):
            code = process.stop()
            ours = pathlib.Path(process.args[0]).name == "atls-proxy"
            sanitizer = ("ERROR: AddressSanitizer" in process.log or
                         "ERROR: LeakSanitizer" in process.log or "runtime error:" in process.log)
            if sanitizer:
                problems.append(f"{process.name}: sanitizer report:\n{process.log_tail(80)}")
            elif ours and not process.killed and code not in (0, 2, 3, 4, 5):
                problems.append(f"{process.name}: exit status {code}:\n{process.log_tail(40)}")
        return problems


@pytest.fixture
def procs(request):
    registry = Procs()
    yield registry
    problems = registry.stop_all()
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else False
    if failed or problems:
        for process in registry.all:
            print(f"----- {process.name} {' '.join(process.args[1:])}\n{process.log_tail(200)}")
    assert not problems, "\n".join(problems)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def run(args, timeout=60, **kwargs):
    """Runs a command to completion (text output)."""
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout, **kwargs)


def _proxy_end(sock):
    """(inode, bytes unread) of the other end of loopback TCP connection `sock`, from
    /proc/net/tcp (inode 0 while the connection waits in the accept queue), or None."""
    ip = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it (little-endian hex)
    local = f"{ip}:{sock.getpeername()[1]:04X}"
    remote = f"{ip}:{sock.getsockname()[1]:04X}"
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[9]), int(fields[4].split(":")[1], 16)
    return None


def wait_accepted(process, sock, read_all=False, timeout=10.0):
    """Waits until `process` has accepted the connection of `sock` (its end of it is one of the
    process's file descriptors) and, with `read_all`, has read every byte sent on it so far
    (the receive queue is empty). A synchronisation point for tests that must signal a proxy
    at a precise stage of a connection, instead of a sleep that may be too short on a slow run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        end = _proxy_end(sock)
        if end and end[0] != 0:
            inode, unread = end
            fds = set()
            for fd in os.listdir(f"/proc/{process.proc.pid}/fd"):
                try:
                    fds.add(os.readlink(f"/proc/{process.proc.pid}/fd/{fd}"))
                except OSError:
                    pass  # closed meanwhile
            if f"socket:[{inode}]" in fds and (not read_all or unread == 0):
                return
        time.sleep(0.01)
    raise AssertionError(f"{process.name} did not accept{' and read' if read_all else ''} "
                         f"the connection within {timeout} s: {_proxy_end(sock)}")


def io_backend():
    """The binary's network I/O backend, "io_uring" or "epoll", from `atls-proxy --version`."""
    out = run([BIN, "--version"]).stdout.decode()
    match = re.search(r"I/O backend: (io_uring|epoll)", out)
    assert match, out
    return match.group(1)


class Pki:
    """Certificates made with the openssl command line in a temp directory."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _openssl(self, *args):
        result = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True)
        assert result.returncode == 0, result.stderr.decode()

    def key(self, name, kind="ec"):
        path = self.dir / f"{name}.key"
        if kind == "ec":
            self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-out", path.name)
        elif kind == "ec-sec1":
            self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-out", path.name + ".tmp")
            self._openssl("ec", "-in", path.name + ".tmp", "-out", path.name)
        elif kind == "rsa-pkcs1":
            self._openssl("genrsa", "-traditional", "-out", path.name, "2048")
        elif kind == "rsa":
            self._openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                          "-out", path.name)
        else:
            raise ValueError(kind)
        return path

    def ca(self, name="Test CA"):
        key = self.key(name.replace(" ", "_") + "-ca")
        cert = self.dir / (name.replace(" ", "_") + "-ca.crt")
        self._openssl("req", "-x509", "-new", "-key", key.name, "-subj", f"/CN={name}",
                      "-days", "2", "-addext", "basicConstraints=critical,CA:true",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", cert.name)
        return {"key": key, "cert": cert}

    def leaf(self, ca, name, dns=(), ips=(), kind="ec", client=False):
        key = self.key(name, kind)
        csr = self.dir / f"{name}.csr"
        cert = self.dir / f"{name}.crt"
        self._openssl("req", "-new", "-key", key.name, "-subj", f"/CN={name}", "-out", csr.name)
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        ext = self.dir / f"{name}.ext"
        lines = ["basicConstraints=CA:FALSE",
                 "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        self._openssl("x509", "-req", "-in", csr.name, "-CA", ca["cert"].name, "-CAkey",
                      ca["key"].name, "-CAcreateserial", "-days", "2", "-extfile", ext.name,
                      "-out", cert.name)
        return {"key": key, "cert": cert}


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


@pytest.fixture(scope="module")
def mock_tee(tmp_path_factory):
    """An INSECURE mock TEE directory (`mock-tee init`), made once per test module; tests may
    write tdx-measurements.json into it."""
    directory = tmp_path_factory.mktemp("mock-tee")
    result = run([BIN, "mock-tee", "init", directory], timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return directory


@pytest.fixture
def target(procs):
    """The target service; returns its port."""
    process = procs.start([PYTHON, TARGET], name="target")
    match = process.wait_for(r"^(\d+)$", timeout=10)
    return int(match.group(1))


def start_server(procs, target_port, *extra, attestation="none", policy=("--allowed-remote-attestation-type", "none"), env=None):
    args = [BIN, "server", f"127.0.0.1:{target_port}", "--listen-addr", "127.0.0.1:0",
            "--server-attestation-type", attestation, *policy, *extra]
    process = procs.start(args, env=env, name="proxy-server")
    return process, process.listen_port("proxy-server")


def start_client(procs, server_port, *extra, attestation="none", policy=("--allowed-remote-attestation-type", "none"), tls=("--allow-self-signed",), env=None, wait_channel=True):
    args = [BIN, "client", f"127.0.0.1:{server_port}", "--listen-addr", "127.0.0.1:0",
            "--client-attestation-type", attestation, *policy, *tls, *extra]
    process = procs.start(args, env=env, name="proxy-client")
    port = process.listen_port("proxy-client")
    if wait_channel:
        process.wait_for(r"attested channel to .* established")
    return process, port


def curl(*args, timeout=120):
    """curl with -sS; returns CompletedProcess (stdout bytes)."""
    return run(["curl", "-sS", "--max-time", str(timeout), *args], timeout=timeout + 10)


# Admin endpoints (docs/operations.md): the port a process logged, GETs, Prometheus samples.
def admin_port(process):
    match = process.wait_for(r"admin endpoints .* on [0-9.]+:(\d+)")
    return int(match.group(1))


def get(url):
    """(status, body) of a GET with curl."""
    result = curl("-o", "-", "-w", "\n%{http_code}", url)
    body, _, status = result.stdout.decode().rpartition("\n")
    return int(status), body


def metric_value(text, name, **labels):
    """Value of the sample `name{labels}` (labels in any order), or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(4))
    return None
