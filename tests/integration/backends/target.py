#!/usr/bin/env python3
"""The target HTTP/1.1 service behind the proxy-server in the integration tests.

Started by the tests themselves on 127.0.0.1 with an ephemeral port, which it prints as the
first line of stdout. Routes:

  /headers            JSON: method, path, headers (lower-case names -> list of values)
  /measurement        the X-Flashbots-Measurement request header, or "No measurements"
                      (the flashbots test target, interop spec §9)
  /sha256             reads the request body (Content-Length or chunked, trailers kept) and
                      answers JSON {"sha256", "bytes", "trailers"}
  /echo               echoes the request body (Content-Length), content type kept
  /bytes?n=N&seed=S   N deterministic pseudo-random bytes, chunked (see expected_bytes())
  /forge              a response carrying forged X-Flashbots-* headers
  /trailers           a chunked response with a trailer field
  /slow?ms=M          answers after M milliseconds
  /slow/started       how many /slow requests have arrived so far (so that a test can act
                      once its request is in flight instead of sleeping and hoping)
  /status?code=C      answers with status C
  /ws                 WebSocket echo (RFC 6455), text and binary frames
  /raw?case=C         a verbatim response from RAW_RESPONSES, then the connection closes
                      (framing the proxy must follow or refuse: RFC 9112 §6)
"""
import base64
import hashlib
import http.server
import json
import random
import socketserver
import sys
import threading
import time
import urllib.parse

BLOCK = 1 << 20

SLOW_STARTED = 0
SLOW_STARTED_LOCK = threading.Lock()

RAW_RESPONSES = {
    # HTTP/1.0 without Content-Length: the body ends with the connection (RFC 9112 §6.3 rule 8).
    "close-delimited": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    # Both framings at once: a response-smuggling signal (RFC 9112 §6.3 rule 3).
    "te-and-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
                     b"\r\n0\r\n\r\n",
    # Obsolete line folding (RFC 9112 §5.2: a proxy rejects it or unfolds it).
    "folded": b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
    # The connection closes 10 bytes into a 100-byte body.
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    # An interim 103 before the final response (RFC 8297), body chunked in odd pieces.
    "early-hints": b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3;ext=1\r\nabc\r\n0\r\n\r\n",
}


def block_for(seed):
    return random.Random(seed).randbytes(BLOCK)


def expected_bytes(n, seed):
    """The byte stream /bytes?n=N&seed=S produces (used by the tests to check sums)."""
    block = block_for(seed)
    full, rest = divmod(n, BLOCK)
    return block * full + block[:rest]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # -- helpers -------------------------------------------------------------------------
    def query(self):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    def route(self):
        return urllib.parse.urlsplit(self.path).path

    def send(self, status, body=b"", ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body_chunks(self):
        """Yields the request body in pieces; returns trailers via self.trailers."""
        self.trailers = {}
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline()
                        if trailer in (b"\r\n", b"\n", b""):
                            return
                        name, _, value = trailer.decode().partition(":")
                        self.trailers[name.strip().lower()] = value.strip()
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 16))
                    remaining -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining:
                piece = self.rfile.read(min(remaining, 1 << 16))
                if not piece:
                    return
                remaining -= len(piece)
                yield piece

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # -- methods -------------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        route = self.route()
        if route == "/headers":
            body_bytes = sum(len(p) for p in self.read_body_chunks())
            headers = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            payload = {"method": self.command, "path": self.path, "headers": headers,
                       "body_bytes": body_bytes}
            return self.send(200, json.dumps(payload).encode(), "application/json")
        if route == "/measurement":
            value = self.headers.get("X-Flashbots-Measurement", "No measurements")
            return self.send(200, value.encode())
        if route == "/sha256":
            digest = hashlib.sha256()
            total = 0
            for piece in self.read_body_chunks():
                digest.update(piece)
                total += len(piece)
            payload = {"sha256": digest.hexdigest(), "bytes": total, "trailers": self.trailers}
            return self.send(200, json.dumps(payload).encode(), "application/json")
        if route == "/echo":
            body = b"".join(self.read_body_chunks())
            ctype = self.headers.get("Content-Type", "application/octet-stream")
            return self.send(200, body, ctype)
        if route == "/bytes":
            q = self.query()
            n = int(q.get("n", ["0"])[0])
            seed = int(q.get("seed", ["1"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if self.command == "HEAD":
                self.send_header("Content-Length", str(n))
                self.end_headers()
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = block_for(seed)
            remaining = n
            while remaining:
                piece = block[: min(remaining, BLOCK)]
                self.write_chunk(piece)
                remaining -= len(piece)
            self.wfile.write(b"0\r\n\r\n")
            return
        if route == "/forge":
            return self.send(200, b"forged", extra=[("X-Flashbots-Measurement", '{"0":"forged"}'),
                                                     ("X-Flashbots-Attestation-Type", "dcap-tdx")])
        if route == "/trailers":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            self.write_chunk(b"hello ")
            self.write_chunk(b"trailers")
            self.wfile.write(b"0\r\nX-Checksum: abc123\r\n\r\n")
            return
        if route == "/slow":
            global SLOW_STARTED
            with SLOW_STARTED_LOCK:
                SLOW_STARTED += 1
            time.sleep(int(self.query().get("ms", ["1000"])[0]) / 1000.0)
            return self.send(200, b"slow")
        if route == "/slow/started":
            with SLOW_STARTED_LOCK:
                return self.send(200, str(SLOW_STARTED).encode())
        if route == "/status":
            code = int(self.query().get("code", ["200"])[0])
            return self.send(code, b"status %d" % code)
        if route == "/ws":
            return self.websocket_echo()
        if route == "/raw":
            self.wfile.write(RAW_RESPONSES[self.query()["case"][0]])
            self.wfile.flush()
            self.close_connection = True
            return
        for _ in self.read_body_chunks():
            pass
        return self.send(200 if self.command in ("DELETE", "PUT", "PATCH") else 404,
                         ("%s %s" % (self.command, self.path)).encode())

    # -- WebSocket (RFC 6455) ------------------------------------------------------------
    def websocket_echo(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if key is None or "websocket" not in self.headers.get("Upgrade", "").lower():
            return self.send(400, b"not a websocket request")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        while True:
            header = self.rfile.read(2)
            if len(header) < 2:
                return
            opcode = header[0] & 0x0F
            masked = header[1] & 0x80
            length = header[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self.rfile.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.rfile.read(8), "big")
            mask = self.rfile.read(4) if masked else b"\0\0\0\0"
            payload = bytearray(self.rfile.read(length))
            for i in range(len(payload)):
                payload[i] ^= mask[i % 4]
            if opcode == 8:  # close: answer and stop
                self.wfile.write(bytes([0x88, 0]))
                self.wfile.flush()
                self.close_connection = True
                return
            frame = bytes([0x80 | opcode])
            if len(payload) < 126:
                frame += bytes([len(payload)])
            elif len(payload) < 65536:
                frame += bytes([126]) + len(payload).to_bytes(2, "big")
            else:
                frame += bytes([127]) + len(payload).to_bytes(8, "big")
            self.wfile.write(frame + bytes(payload))
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = Server(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
