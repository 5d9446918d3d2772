"""A small site on the lesson's `proxies-outside` network: HTTP on 80, HTTPS on 443.

It answers every GET with what it saw of the request, as JSON: the TCP peer's
address (whoever connected: the forward proxy, not the client behind it), the
Host, the path and the headers. GET /download?bytes=N sends N bytes (at most
MAX_DOWNLOAD), for the benchmark. Its certificate is issued by the sandbox's
local CA for www.outside.test and other.outside.test (comms_sandbox/certs.py).

    python -m outside.site
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CERT = os.environ.get("OUTSIDE_CERT", "/etc/outside-tls/outside.pem")
KEY = os.environ.get("OUTSIDE_KEY", "/etc/outside-tls/outside.key")
MAX_DOWNLOAD = 8 * 1024 * 1024
CHUNK = b"\0" * 65536


class Handler(BaseHTTPRequestHandler):
    server_version = "outside"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle or slow client is dropped, not held forever

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/download":
            self.download(parse_qs(url.query).get("bytes", ["0"])[0])
            return
        seen = {"peer": self.client_address[0], "tls": isinstance(self.connection, ssl.SSLSocket),
                "host": self.headers.get("Host", ""), "path": self.path[:512],
                "headers": dict(self.headers.items())}  # fmt: skip
        self.send(200, json.dumps(seen).encode(), "application/json")

    def download(self, size: str) -> None:
        if not size.isdigit() or not 0 <= int(size) <= MAX_DOWNLOAD:
            self.send(400, f"bytes must be 0 to {MAX_DOWNLOAD}\n".encode(), "text/plain")
            return
        left = int(size)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(left))
        self.end_headers()
        while left:
            self.wfile.write(CHUNK[: min(left, len(CHUNK))])
            left -= min(left, len(CHUNK))

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.client_address[0]} {format % args}", flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def tls_server(port: int) -> Server:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(CERT, KEY)
    server = Server(("0.0.0.0", port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def main() -> None:
    plain = Server(("0.0.0.0", 80), Handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    tls_server(443).serve_forever()


if __name__ == "__main__":
    main()
