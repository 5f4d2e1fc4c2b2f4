"""A fake Intel PCS / PCCS for integration tests (Python stdlib only).

Serves one dcap-qvl JSON collateral bundle (e.g. the tdx-collateral.json of a mock TEE
directory) at the PCS v4 paths of verification.md §1.5 — TCB info and QE identity as
{"<key>":<exact text>,"signature":"<hex>"} with URL-encoded issuer-chain headers, the PCK CRL
as DER, the PCCS root CA CRL as hex — and can be switched to fail (a status, optionally with
Retry-After) and to recover. Requests are counted per target.

    pcs = FakePcs(json.load(open("tdx-collateral.json")), "00a06e570000", "platform")
    pcs.base_url  # http://127.0.0.1:<port>
    pcs.fail_with(500); pcs.recover(); pcs.hits[target]; pcs.close()
"""
import collections
import http.server
import threading
import urllib.parse


def signed_body(key, text, signature_hex):
    return ('{"%s":%s,"signature":"%s"}' % (key, text, signature_hex)).encode()


class FakePcs:
    def __init__(self, collateral, fmspc, ca="platform"):
        quote = lambda pem: urllib.parse.quote(pem, safe="")
        self.routes = {
            "/tdx/certification/v4/tcb?fmspc=" + fmspc.upper(): (
                [("TCB-Info-Issuer-Chain", quote(collateral["tcb_info_issuer_chain"]))],
                signed_body("tcbInfo", collateral["tcb_info"], collateral["tcb_info_signature"])),
            "/tdx/certification/v4/qe/identity?update=standard": (
                [("SGX-Enclave-Identity-Issuer-Chain",
                  quote(collateral["qe_identity_issuer_chain"]))],
                signed_body("enclaveIdentity", collateral["qe_identity"],
                            collateral["qe_identity_signature"])),
            "/sgx/certification/v4/pckcrl?ca=%s&encoding=der" % ca: (
                [("SGX-PCK-CRL-Issuer-Chain", quote(collateral["pck_crl_issuer_chain"]))],
                bytes.fromhex(collateral["pck_crl"])),
            "/sgx/certification/v4/rootcacrl": ([], collateral["root_ca_crl"].encode()),
        }
        self.failure = None
        self.hits = collections.Counter()
        self._lock = threading.Lock()
        self._closed = False
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with owner._lock:
                    owner.hits[self.path] += 1
                    failure = owner.failure
                    route = owner.routes.get(self.path)
                if failure is not None:
                    status, headers, body = failure[0], failure[1], b""
                elif route is None:
                    status, headers, body = 404, [], b""
                else:
                    status, (headers, body) = 200, route
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_with(self, status, retry_after=None):
        with self._lock:
            self.failure = (status, [("Retry-After", str(retry_after))] if retry_after else [])

    def recover(self):
        with self._lock:
            self.failure = None

    def total_hits(self):
        with self._lock:
            return sum(self.hits.values())

    def close(self):
        """Stops serving (connections are then refused); idempotent."""
        if not self._closed:
            self._closed = True
            self.server.shutdown()
            self.server.server_close()
