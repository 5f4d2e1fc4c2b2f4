#!/usr/bin/env python3
"""HTTP proxy benchmark (issue: HTTP proxy over the attested channel, "Performance").

In one run on one machine, measures small-request throughput, p99 latency and proxy CPU time
per request for:

  direct      load tool -> target
  atls-h2     load tool -> atls-proxy client -> [TLS 1.3 + ratls, HTTP/2] -> atls-proxy server -> target
  atls-h1     the same with HTTP/1.1 inside the channel (server --inner-alpn http/1.1)
  nghttpx     load tool -> nghttpx (plain in, TLS 1.3 h2 out) -> nghttpx (TLS in) -> target
  haproxy     load tool -> haproxy (plain in, TLS 1.3 out) -> haproxy (TLS in) -> target

with the same target (nginx, a fixed 2-byte response) and load tools (wrk for HTTP/1.1,
h2load for HTTP/2 prior knowledge). Workloads: h1 keep-alive, h2 multiplexed, and h1 with
`Connection: close` (a new source connection per request). The load tool runs on one CPU,
the proxies and the target on the other (taskset). The attestation handshake happens before
the measured window (a warm-up request). CPU per request = (utime + stime of both proxy
processes over the window) / requests completed.

Each workload runs --rounds rounds (default 3), each measuring every stack once; the table
shows medians, and the ratios against nghttpx are the median (and range) of the per-round
ratios.

Usage: bench/http/run.py [--binary build/release/src/atls-proxy] [--seconds 10] [--rounds 3]
                         [--json results.json] [--markdown table.md] [--only a,b]
                         [--workloads h1-keepalive,...] [--compare-binary other/atls-proxy]
Everything binds 127.0.0.1 on ephemeral ports and is stopped at the end.
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
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime + stime in seconds) of a live process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid):
    """CPU time of `pid` and of all its live descendants: nghttpx and nginx do their work in
    forked worker processes, whose time the master's own counters do not include."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    total, frontier = 0.0, [pid]
    while frontier:
        current = frontier.pop()
        if current in stats:
            total += stats[current][1]
        frontier.extend(child for child, (ppid, _) in stats.items() if ppid == current)
    return total


class Stack:
    """Processes of one configuration; stopped on exit."""

    def __init__(self, workdir, proxy_cpu):
        self.workdir = workdir
        self.proxy_cpu = proxy_cpu
        self.procs = []
        self.proxies = []

    def start(self, args, proxy=False, log=None):
        cmd = ["taskset", "-c", self.proxy_cpu, *map(str, args)]
        out = open(self.workdir / (log or f"p{len(self.procs)}.log"), "w")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.procs.append(proc)
        if proxy:
            self.proxies.append(proc)
        return proc

    def proxy_cpu_seconds(self):
        return sum(cpu_seconds(p.pid) for p in self.proxies)

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_nginx(stack, workdir):
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location / {{ return 200 "ok"; }}
  }}
}}
""")
    stack.start(["nginx", "-c", conf, "-p", workdir], log="nginx.log")
    wait_port(port)
    return port


def make_cert(workdir):
    key, cert = workdir / "server.key", workdir / "server.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    (workdir / "server.pem").write_text(cert.read_text() + key.read_text())
    return key, cert


def stack_direct(stack, workdir, target):
    return target


def stack_atls(inner, binary_option="binary"):
    def build(stack, workdir, target):
        binary = getattr(ARGS, binary_option)
        key, cert = make_cert(workdir)
        server_port, client_port = free_port(), free_port()
        stack.start([binary, "server", f"127.0.0.1:{target}", "-l", f"127.0.0.1:{server_port}",
                     "--server-attestation-type", "none", "--allowed-remote-attestation-type", "none",
                     "--tls-certificate-path", cert, "--tls-private-key-path", key,
                     "--inner-alpn", inner, "--io-threads", "1"], proxy=True, log="atls-server.log")
        wait_port(server_port)
        stack.start([binary, "client", f"127.0.0.1:{server_port}", "-l", f"127.0.0.1:{client_port}",
                     "--client-attestation-type", "none", "--allowed-remote-attestation-type", "none",
                     "--tls-ca-certificate", cert, "--max-http1-channels", "64"],
                    proxy=True, log="atls-client.log")
        wait_port(client_port)
        return client_port
    return build


def stack_nghttpx(stack, workdir, target):
    key, cert = make_cert(workdir)
    server_port, client_port = free_port(), free_port()
    common = ["--workers=1", "--no-ocsp", "--no-via", "--no-server-rewrite",
              "--backend-keep-alive-timeout=60s", "--frontend-keep-alive-timeout=60s"]
    stack.start(["nghttpx", *common, f"--frontend=127.0.0.1,{server_port}",
                 f"--backend=127.0.0.1,{target};;proto=http/1.1", key, cert,
                 "--tls-min-proto-version=TLSv1.3", "--tls-max-proto-version=TLSv1.3",
                 f"--pid-file={workdir}/nghttpx-s.pid", "--conf=/dev/null"],
                proxy=True, log="nghttpx-server.log")
    wait_port(server_port)
    stack.start(["nghttpx", *common, f"--frontend=127.0.0.1,{client_port};no-tls",
                 f"--backend=127.0.0.1,{server_port};;tls;proto=h2;sni=localhost",
                 f"--cacert={cert}", "--tls-min-proto-version=TLSv1.3",
                 "--tls-max-proto-version=TLSv1.3",
                 f"--pid-file={workdir}/nghttpx-c.pid", "--conf=/dev/null"],
                proxy=True, log="nghttpx-client.log")
    wait_port(client_port)
    return client_port


def stack_haproxy(stack, workdir, target):
    key, cert = make_cert(workdir)
    server_port, client_port = free_port(), free_port()
    defaults = """
global
  nbthread 1
  maxconn 5000
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
"""
    (workdir / "haproxy-server.cfg").write_text(defaults + f"""
frontend tls_in
  bind 127.0.0.1:{server_port} ssl crt {workdir}/server.pem alpn h2,http/1.1
  default_backend target
backend target
  server t 127.0.0.1:{target}
""")
    (workdir / "haproxy-client.cfg").write_text(defaults + f"""
frontend plain_in
  bind 127.0.0.1:{client_port} proto h2,http/1.1
  default_backend upstream
backend upstream
  server s 127.0.0.1:{server_port} ssl verify required ca-file {cert} alpn h2 sni str(localhost)
""")
    # `proto h2,http/1.1` is not a bind option: detect h2c by preface instead.
    text = (workdir / "haproxy-client.cfg").read_text().replace(" proto h2,http/1.1", "")
    (workdir / "haproxy-client.cfg").write_text(text)
    stack.start(["haproxy", "-f", workdir / "haproxy-server.cfg"], proxy=True, log="haproxy-server.log")
    wait_port(server_port)
    stack.start(["haproxy", "-f", workdir / "haproxy-client.cfg"], proxy=True, log="haproxy-client.log")
    wait_port(client_port)
    return client_port


STACKS = {
    "direct": stack_direct,
    "atls-h2": stack_atls("h2,http/1.1"),
    "atls-h1": stack_atls("http/1.1"),
    "nghttpx": stack_nghttpx,
    "haproxy": stack_haproxy,
}


def run_wrk(port, seconds, connections, close):
    args = ["taskset", "-c", ARGS.load_cpu, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
            "--latency", f"http://127.0.0.1:{port}/"]
    if close:
        args[5:5] = ["-H", "Connection: close"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def run_h2load(port, seconds, clients, streams):
    args = ["taskset", "-c", ARGS.load_cpu, "h2load", f"-c{clients}", f"-m{streams}", "-t1",
            f"-D{seconds}", "--warm-up-time=1", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    # h2load prints min/max/mean/sd for request times; p99 needs the per-request log, so the
    # mean + 2.33 sd bound is reported as an approximation (documented in benchmarks.md).
    req = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    mean = float(req.group(5)) * scale[req.group(6)]
    sd = float(req.group(7)) * scale[req.group(8)]
    return {"requests": int(done.group(2)), "rps": rps, "p99_ms": mean + 2.33 * sd,
            "non_2xx": int(done.group(1)) - int(done.group(2)), "socket_errors": ""}


WORKLOADS = {
    "h1-keepalive": lambda port, s: run_wrk(port, s, 50, close=False),
    "h2-multiplexed": lambda port, s: run_h2load(port, s, 4, 32),
    "h1-close": lambda port, s: run_wrk(port, s, 50, close=True),
}


def measure(stack_name, workload):
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{stack_name}-"))
    stack = Stack(workdir, ARGS.proxy_cpu)
    try:
        target = start_nginx(stack, workdir)
        port = STACKS[stack_name](stack, workdir, target)
        # Warm-up outside the window: channel establishment, attestation, connection pools.
        for _ in range(3):
            subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"],
                           timeout=30)
        cpu_before = stack.proxy_cpu_seconds()
        result = WORKLOADS[workload](port, ARGS.seconds)
        cpu = stack.proxy_cpu_seconds() - cpu_before
        result["proxy_cpu_us_per_request"] = (cpu / result["requests"] * 1e6
                                              if stack.proxies and result["requests"] else 0.0)
        return result
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    # Rounds interleave the stacks, so that each round's ratio compares measurements taken
    # seconds apart: on a shared VM the machine's speed drifts between minutes (the same stack
    # has measured 13k and 27k req/s in two runs an hour apart), and the median of per-round
    # ratios is what stays put.
    results = {}
    for workload in WORKLOADS:
        for round_number in range(ARGS.rounds):
            for stack_name in STACKS:
                if stack_name == "direct" and workload == "h2-multiplexed":
                    continue  # nginx here speaks HTTP/1.1 only
                print(f"== {workload} / {stack_name} (round {round_number + 1}/{ARGS.rounds})",
                      flush=True)
                try:
                    result = measure(stack_name, workload)
                except Exception as error:  # a failing stack is reported, not fatal
                    result = {"error": str(error)}
                results.setdefault(workload, {}).setdefault(stack_name, []).append(result)
                print("   ", result, flush=True)
    lines = ["| workload | stack | req/s | p99 ms | proxy CPU µs/req | vs nghttpx req/s "
             "(min–max) | vs nghttpx CPU (min–max) |",
             "|---|---|---|---|---|---|---|"]

    for workload, stacks in results.items():
        base_rounds = stacks.get("nghttpx", [])
        for name, rounds in stacks.items():
            errors = [r["error"] for r in rounds if "error" in r]
            if errors:
                lines.append(f"| {workload} | {name} | error: {errors[0]} | | | | |")
                continue
            rate_ratios, cpu_ratios = [], []
            for r, base in zip(rounds, base_rounds):
                if base.get("rps"):
                    rate_ratios.append(r["rps"] / base["rps"])
                if base.get("proxy_cpu_us_per_request") and r["proxy_cpu_us_per_request"]:
                    cpu_ratios.append(r["proxy_cpu_us_per_request"] /
                                      base["proxy_cpu_us_per_request"])
            lines.append(
                f"| {workload} | {name} | {median([r['rps'] for r in rounds]):.0f} | "
                f"{median([r['p99_ms'] for r in rounds]):.2f} | "
                f"{median([r['proxy_cpu_us_per_request'] for r in rounds]):.1f} | "
                f"{ratio_text(rate_ratios)} | {ratio_text(cpu_ratios)} |")
    table = "\n".join(lines)
    print(table)
    if ARGS.json:
        pathlib.Path(ARGS.json).write_text(json.dumps(results, indent=2))
    if ARGS.markdown:
        pathlib.Path(ARGS.markdown).write_text(table + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / "build/release/src/atls-proxy"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds per workload, each measuring every stack once; medians "
                             "are reported")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--proxy-cpu", default="0")
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--only", help="comma-separated stacks to run")
    parser.add_argument("--workloads", help="comma-separated workloads to run")
    parser.add_argument("--compare-binary",
                        help="another atls-proxy build (e.g. the previous commit's) measured in "
                             "the same rounds as stack atls-h2-compare, for before/after ratios")
    ARGS = parser.parse_args()
    if ARGS.compare_binary:
        STACKS["atls-h2-compare"] = stack_atls("h2,http/1.1", "compare_binary")
    if ARGS.only:
        STACKS = {k: v for k, v in STACKS.items() if k in ARGS.only.split(",")}
    if ARGS.workloads:
        WORKLOADS = {k: v for k, v in WORKLOADS.items() if k in ARGS.workloads.split(",")}
    sys.exit(main())
