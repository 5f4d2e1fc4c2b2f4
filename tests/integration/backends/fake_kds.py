"""A fake AMD Key Distribution Service for integration tests (Python stdlib only).

Serves one VCEK (DER) for one chip at the KDS path of verification.md §2.4,
/vcek/v1/<product>/<hwID hex>?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=.. (the SPLs are not
checked: the proxy checks that the certificate carries them), the CRLs the test sets at
/<vcek|vlek>/v1/<product>/crl (DER, e.g. from `atls-proxy mock-tee crl`), 404 for anything
else. It can be switched to fail (a status, optionally with Retry-After) and to recover.
Requests are counted.

    kds = FakeKds(vcek_der, "Milan", "c1" * 64)   # vcek_der may be None
    kds.base_url  # http://127.0.0.1:<port>
    kds.set_crl("Milan", "vcek", crl_der); kds.set_crl("Milan", "vcek", None)  # None: 404
    kds.fail_with(503); kds.recover(); kds.total_hits(); kds.hits_of("/vcek/v1/Milan/crl")
    kds.close()
"""
import base64
import collections
import http.server
import threading


def pem_to_der(text):
    """The DER of the first certificate of a PEM text."""
    body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


class FakeKds:
    def __init__(self, vcek_der, product, hw_id_hex):
        self.prefix = "/vcek/v1/%s/%s?" % (product, hw_id_hex.lower())
        self.vcek = vcek_der
        self.crls = {}
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
                    crl = owner.crls.get(self.path)
                if failure is not None:
                    status, headers, body = failure[0], failure[1], b""
                elif crl is not None:
                    status, headers, body = 200, [("Content-Type", "application/pkix-crl")], crl
                elif owner.vcek is not None and self.path.startswith(owner.prefix):
                    status, headers, body = 200, [("Content-Type", "application/pkix-cert")], \
                        owner.vcek
                else:
                    status, headers, body = 404, [], b""
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

    def set_crl(self, product, family, der):
        """Serves `der` at /<family>/v1/<product>/crl; None answers 404 there."""
        with self._lock:
            path = "/%s/v1/%s/crl" % (family, product)
            if der is None:
                self.crls.pop(path, None)
            else:
                self.crls[path] = der

    def hits_of(self, path):
        with self._lock:
            return self.hits[path]

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
