#!/usr/bin/env python3
"""Database mode benchmark (issue: database mode, "Benchmark"; docs/benchmarks.md).

In one run on one machine, measures pgbench throughput against a throwaway PostgreSQL 15
cluster for:

  direct-tls     pgbench -> PostgreSQL (sslmode=require: TLS 1.3 terminated by PostgreSQL)
  atls           pgbench -> pg-client -> [TLS 1.3 + ratls, HTTP/2 CONNECT] -> pg-server
                 -> SSLRequest + TLS (verify-full) -> PostgreSQL          (the product path)
  atls-plainbe   the same with --backend-sslmode disable (backend leg plaintext on loopback,
                 the same shape as the stunnel pair)
  stunnel        pgbench -> stunnel4 (client: plain in, TLS out) -> stunnel4 (server: TLS in,
                 plain out) -> PostgreSQL

--placement pins the processes to vCPUs (PLACEMENTS below): `shared` (default, nothing
pinned), `proxies-apart` (PostgreSQL and pgbench on vCPU 0, the proxies on vCPU 1) and
`two-hosts` (pgbench and the client proxy on vCPU 0, PostgreSQL and the server proxy on vCPU 1).
The table shows each path's idle time per vCPU, which says which vCPU was the bottleneck.

Workloads: pgbench select-only (-S), TPC-B-like (the default script), and select-only with -C
(a new connection per transaction: shows that a database connection through the pair costs a
stream, not an attestation). Authentication is `trust` for the benchmark role so that the
numbers show the transport, not SCRAM's PBKDF2. Proxy CPU per transaction = utime + stime of
the proxy processes over the window / transactions.

Usage: bench/pg/run.py [--binary build/release/src/atls-proxy] [--seconds 10] [--clients 8]
                       [--scale 10] [--json results.json] [--markdown table.md] [--only a,b]
                       [--workloads select-only,...] [--rounds 1] [--placement shared]
                       [--proxy-cpu 1]
                       [--compare-binary other/atls-proxy]
Everything binds 127.0.0.1 on ephemeral ports and is stopped at the end. Runs PostgreSQL as
the `postgres` user when started as root.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from statistics import median

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from common import free_port, ratio_text, wait_port  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def cpu_idle_ticks():
    """(idle + iowait, total) ticks per CPU from /proc/stat: whether a CPU was the bottleneck."""
    ticks = []
    with open("/proc/stat") as stat:
        for line in stat:
            if re.match(r"cpu\d+ ", line):
                fields = [int(f) for f in line.split()[1:]]
                ticks.append((fields[3] + fields[4], sum(fields)))
    return ticks


# Where each process runs (taskset CPU lists), by --placement. Roles: "db" is PostgreSQL (every
# backend inherits the postmaster's affinity), "load" is pgbench, "client" and "server" are the
# two proxies of a pair (pg-client / stunnel client, pg-server / stunnel server).
PLACEMENTS = {
    # Everything on every vCPU: the proxies' CPU is taken from PostgreSQL and pgbench.
    "shared": {},
    # PostgreSQL and pgbench keep vCPU 0 in every path; the proxies get vCPU 1. The database
    # and the load generator have the same CPU budget with and without the pair, as when the
    # pg-server runs in its own confidential VM (seeds/002 "Deployment") and the pg-client on
    # spare cores of the application host.
    "proxies-apart": {"db": "0", "load": "0", "client": "1", "server": "1"},
    # Two one-vCPU hosts: pgbench and the client proxy on vCPU 0, PostgreSQL and the server
    # proxy on vCPU 1 (the database inside the TEE VM with its proxy).
    "two-hosts": {"db": "1", "load": "0", "client": "0", "server": "1"},
}


def pinned(role, args):
    """args behind `taskset -c` for the role's CPUs under --placement (unchanged if unpinned)."""
    cpus = ARGS.proxy_cpu if ARGS.proxy_cpu is not None and role in ("client", "server") \
        else PLACEMENTS[ARGS.placement].get(role)
    return ["taskset", "-c", cpus, *args] if cpus is not None else list(args)


def openssl(*args, cwd):
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_pki(directory):
    """A CA and a server certificate for 127.0.0.1 / localhost (used by PostgreSQL, stunnel and
    pg-server alike)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA",
            "-addext", "basicConstraints=critical,CA:true",
            "-addext", "keyUsage=critical,keyCertSign", cwd=directory)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    (directory / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt",
            cwd=directory)
    for name in ("ca.crt", "server.crt", "server.key"):
        os.chmod(directory / name, 0o644)


class Cluster:
    def __init__(self, directory):
        self.dir = directory
        self.data = directory / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *args, **kwargs):
        return subprocess.run(self.as_user + [str(a) for a in args], check=True,
                              capture_output=True, **kwargs)

    def start(self):
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)
        self.run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        for name in ("server.crt", "server.key"):
            shutil.copy(self.dir / "pki" / name, self.data / name)
            os.chmod(self.data / name, 0o600)
            if self.as_user:
                shutil.chown(self.data / name, "postgres", "postgres")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.dir}'
max_connections = 200
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
""")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all bench 127.0.0.1/32 trust\n")
        self.run(*pinned("db", [PG_BIN / "pg_ctl", "-D", self.data, "-l",
                                self.dir / "postgres.log", "-w", "start"]))
        self.sql("create role bench login")
        self.sql("create database bench owner bench")
        subprocess.run(["pgbench", "-i", "-q", "-s", str(ARGS.scale), "-h", str(self.dir), "-p",
                        str(self.port), "-U", "bench", "bench"], check=True, capture_output=True)

    def sql(self, text):
        subprocess.run(["psql", "-X", "-q", "-h", str(self.dir), "-p", str(self.port), "-U",
                        "postgres", "-c", text], check=True, capture_output=True)

    def stop(self):
        subprocess.run(self.as_user + [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                                       "fast", "-w", "stop"], capture_output=True)


class Stack:
    """Proxy processes of one configuration; stopped on exit."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.roles = []

    def start(self, role, args, log):
        out = open(self.workdir / log, "w")
        args = pinned(role, args)
        proc = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.workdir)
        self.procs.append(proc)
        self.roles.append(role)
        return proc

    def cpu_seconds(self):
        """CPU seconds used so far by the stack's processes, per role (client, server)."""
        used = {}
        for role, proc in zip(self.roles, self.procs):
            used[role] = used.get(role, 0.0) + cpu_seconds(proc.pid)
        return used

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def conninfo(port, sslmode):
    return f"host=127.0.0.1 port={port} user=bench dbname=bench sslmode={sslmode} gssencmode=disable"


def stack_direct(stack, cluster, pki):
    return conninfo(cluster.port, "require")


def stack_atls(backend_tls, binary_option="binary"):
    def build(stack, cluster, pki):
        binary = getattr(ARGS, binary_option)
        server_port, client_port = free_port(), free_port()
        backend = (["--backend-ca", pki / "ca.crt", "--backend-server-name", "localhost"]
                   if backend_tls else ["--backend-sslmode", "disable"])
        stack.start("server",
                    [binary, "pg-server", f"127.0.0.1:{cluster.port}", "-l",
                     f"127.0.0.1:{server_port}", "--server-attestation-type", "none",
                     "--allowed-remote-attestation-type", "none", "--tls-certificate-path",
                     pki / "server.crt", "--tls-private-key-path", pki / "server.key", *backend],
                    "pg-server.log")
        wait_port(server_port)
        stack.start("client",
                    [binary, "pg-client", f"127.0.0.1:{server_port}", "-l",
                     f"127.0.0.1:{client_port}", "--client-attestation-type", "none",
                     "--allowed-remote-attestation-type", "none", "--tls-ca-certificate",
                     pki / "ca.crt"], "pg-client.log")
        wait_port(client_port)
        return conninfo(client_port, "disable")
    return build


def stack_stunnel(stack, cluster, pki):
    server_port, client_port = free_port(), free_port()
    common = "foreground = yes\npid =\nsocket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n"
    (stack.workdir / "stunnel-server.conf").write_text(common + f"""
[pg-in]
accept = 127.0.0.1:{server_port}
connect = 127.0.0.1:{cluster.port}
cert = {pki / 'server.crt'}
key = {pki / 'server.key'}
sslVersionMin = TLSv1.3
""")
    (stack.workdir / "stunnel-client.conf").write_text(common + f"""
[pg-out]
client = yes
accept = 127.0.0.1:{client_port}
connect = 127.0.0.1:{server_port}
CAfile = {pki / 'ca.crt'}
verifyChain = yes
checkHost = localhost
sslVersionMin = TLSv1.3
""")
    stack.start("server", ["stunnel4", stack.workdir / "stunnel-server.conf"],
                "stunnel-server.log")
    wait_port(server_port)
    stack.start("client", ["stunnel4", stack.workdir / "stunnel-client.conf"],
                "stunnel-client.log")
    wait_port(client_port)
    return conninfo(client_port, "disable")


STACKS = {
    "direct-tls": stack_direct,
    "atls": stack_atls(backend_tls=True),
    "atls-plainbe": stack_atls(backend_tls=False),
    "stunnel": stack_stunnel,
}

WORKLOADS = {
    "select-only": ["-S"],
    "tpcb-like": [],
    "select-only -C": ["-S", "-C"],
}


def run_pgbench(info, flags, seconds):
    args = pinned("load", ["pgbench", "-n", "-c", str(ARGS.clients), "-j", "2", "-T", str(seconds),
                           *flags, info])
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    out = result.stdout
    if result.returncode != 0:
        raise RuntimeError(f"pgbench failed ({result.returncode}): {result.stderr[-500:]}")
    tps = float(re.search(r"^tps = ([\d.]+)", out, re.M).group(1))
    processed = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": tps, "transactions": processed, "failed": int(failed.group(1)) if failed else 0,
            "latency_ms": float(latency.group(1)) if latency else 0.0}


def measure(cluster, pki, stack_name, workload):
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-pg-{stack_name}-"))
    stack = Stack(workdir)
    try:
        info = STACKS[stack_name](stack, cluster, pki)
        # Warm-up outside the window: channel establishment and attestation, caches.
        run_pgbench(info, WORKLOADS[workload], 1)
        before, idle_before = stack.cpu_seconds(), cpu_idle_ticks()
        result = run_pgbench(info, WORKLOADS[workload], ARGS.seconds)
        after = stack.cpu_seconds()
        result["idle_percent_per_cpu"] = [
            round(100.0 * (idle - idle_start) / max(1, total - total_start), 1)
            for (idle, total), (idle_start, total_start) in zip(cpu_idle_ticks(), idle_before)]
        per_tx = 1e6 / result["transactions"] if result["transactions"] else 0.0
        for role in after:
            result[f"{role}_proxy_cpu_us_per_tx"] = (after[role] - before[role]) * per_tx
        result["proxy_cpu_us_per_tx"] = sum(after[role] - before[role] for role in after) * per_tx
        return result
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    base = pathlib.Path(tempfile.mkdtemp(prefix="bench-pg-"))
    os.chmod(base, 0o755)
    (base / "pki").mkdir()
    make_pki(base / "pki")
    cluster = Cluster(base)
    results = {}
    try:
        cluster.start()
        # Rounds interleave the paths (as in bench/http): each round's ratio compares runs taken
        # seconds apart, and the median of the per-round ratios is what stays put on a VM whose
        # speed drifts between minutes.
        for workload in WORKLOADS:
            for round_number in range(ARGS.rounds):
                for stack_name in STACKS:
                    print(f"== {workload} / {stack_name} (round {round_number + 1}/{ARGS.rounds})",
                          flush=True)
                    try:
                        result = measure(cluster, base / "pki", stack_name, workload)
                    except Exception as error:  # a failing stack is reported, not fatal
                        result = {"error": str(error)}
                    results.setdefault(workload, {}).setdefault(stack_name, []).append(result)
                    print("   ", result, flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    lines = ["| workload | path | TPS | avg latency ms | failed | "
             "proxy CPU µs/tx (client + server) | idle % per vCPU | vs direct-tls (min–max) |",
             "|---|---|---|---|---|---|---|---|"]
    for workload, stacks in results.items():
        direct_rounds = stacks.get("direct-tls", [])
        for name, rounds in stacks.items():
            errors = [r["error"] for r in rounds if "error" in r]
            if errors:
                lines.append(f"| {workload} | {name} | error: {errors[0]} | | | | | |")
                continue
            ratios = [r["tps"] / d["tps"] for r, d in zip(rounds, direct_rounds)
                      if d.get("tps")]
            ratio = ratio_text(ratios)
            cpu = (f"{median([r['proxy_cpu_us_per_tx'] for r in rounds]):.1f} "
                   f"({median([r.get('client_proxy_cpu_us_per_tx', 0) for r in rounds]):.0f} + "
                   f"{median([r.get('server_proxy_cpu_us_per_tx', 0) for r in rounds]):.0f})"
                   if name != "direct-tls" else "–")
            idle = " / ".join(f"{median(cpu_idle):.0f}"
                              for cpu_idle in zip(*[r["idle_percent_per_cpu"] for r in rounds]))
            lines.append(f"| {workload} | {name} | {median([r['tps'] for r in rounds]):.0f} | "
                         f"{median([r['latency_ms'] for r in rounds]):.2f} | "
                         f"{sum(r['failed'] for r in rounds)} | {cpu} | {idle} | {ratio} |")
    table = "\n".join(lines)
    print(table)
    if ARGS.json:
        pathlib.Path(ARGS.json).write_text(json.dumps(results, indent=2))
    if ARGS.markdown:
        pathlib.Path(ARGS.markdown).write_text(table + "\n")
    errors = [r for stacks in results.values() for rounds in stacks.values() for r in rounds
              if "error" in r]
    return 1 if errors else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    release = REPO / "build/release/src/atls-proxy"
    parser.add_argument("--binary", default=str(release if release.exists()
                                                else REPO / "build/dev/src/atls-proxy"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds per workload, each measuring every path once; medians are "
                             "reported")
    parser.add_argument("--only", help="comma-separated paths to run")
    parser.add_argument("--workloads", help="comma-separated workloads to run")
    parser.add_argument("--compare-binary",
                        help="another atls-proxy build (e.g. the previous commit's) measured in "
                             "the same rounds as path atls-compare, for before/after ratios")
    parser.add_argument("--placement", choices=PLACEMENTS, default="shared",
                        help="which vCPUs PostgreSQL, pgbench and the proxies run on (see "
                             "PLACEMENTS; docs/benchmarks.md)")
    parser.add_argument("--proxy-cpu",
                        help="pin both proxies of a path to this CPU list (taskset -c), e.g. 1, "
                             "to see how much of a result is scheduling between vCPUs; overrides "
                             "--placement for the proxies")
    ARGS = parser.parse_args()
    needed_cpus = {int(cpu) for cpus in PLACEMENTS[ARGS.placement].values()
                   for cpu in cpus.split(",")}
    if needed_cpus and max(needed_cpus) >= os.cpu_count():
        parser.error(f"--placement {ARGS.placement} needs {max(needed_cpus) + 1} CPUs")
    ARGS.binary = str(pathlib.Path(ARGS.binary).resolve())  # the proxies run in a temp dir
    if ARGS.compare_binary:
        ARGS.compare_binary = str(pathlib.Path(ARGS.compare_binary).resolve())
        STACKS["atls-compare"] = stack_atls(backend_tls=True, binary_option="compare_binary")
    if ARGS.only:
        STACKS = {k: v for k, v in STACKS.items() if k in ARGS.only.split(",")}
    if ARGS.workloads:
        WORKLOADS = {k: v for k, v in WORKLOADS.items() if k in ARGS.workloads.split(",")}
    sys.exit(main())
