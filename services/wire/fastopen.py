"""TCP Fast Open with TLS 1.3: the ClientHello rides in the SYN (RFC 7413).

    python -m wire.fastopen --host proxy --port 8443 --ca /etc/sandbox-tls/ca.pem

Two connections to one server, each a full TLS 1.3 handshake and one GET. The
first SYN asks for a Fast Open cookie (an empty TFO option) and the SYN-ACK
brings one, which this network namespace's kernel keeps for that server's
address. The second connection then sends its first write, the ClientHello,
inside its SYN: the TLS handshake runs through memory buffers, so the
ClientHello's bytes are ready before the connection is, and one
sendto(MSG_FASTOPEN) connects and sends them. Prints one JSON line: each connection's status,
TLS version and start time, this kernel's TcpExt.TCPFastOpenActive (SYNs whose
data the server took) before and after, and the TLS secrets (NSS key log lines)
so that a capture of the connections can be decrypted.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import tempfile
import time
from pathlib import Path

from wire.kernel import counter

SERVER_NAME = "localhost"  # the name on the proxy's certificate
PATH = "/whoami"
MAX_HEAD = 16 * 1024


def fastopen_active() -> int:
    return counter("/proc/net/netstat", "TcpExt", "TCPFastOpenActive")


def context(ca: str, keylog: Path) -> ssl.SSLContext:
    made = ssl.create_default_context(cafile=ca)
    made.minimum_version = made.maximum_version = ssl.TLSVersion.TLSv1_3
    made.set_alpn_protocols(["http/1.1"])
    made.keylog_filename = str(keylog)
    return made


class Connection:
    """TLS over a socket through memory buffers (ssl.MemoryBIO): the ClientHello's bytes are
    in hand before any packet leaves, so the first send can carry them in the SYN."""

    def __init__(self, tls_context: ssl.SSLContext) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = tls_context.wrap_bio(self.incoming, self.outgoing, server_hostname=SERVER_NAME)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def open(self, address: tuple[str, int]) -> None:
        """connect() and the ClientHello in one sendto(MSG_FASTOPEN): with a cookie from an
        earlier connection, the kernel puts the data in the SYN; without one, it asks for a
        cookie and sends the data once the handshake is done."""
        self._step()
        # Blocking for this call: a non-blocking one without a cookie would return
        # EINPROGRESS and leave the ClientHello unsent.
        self.sock.settimeout(None)
        self.sock.sendto(self.outgoing.read(), socket.MSG_FASTOPEN, address)
        self.sock.settimeout(5)
        while not self._step():
            self._flush()
            self._receive()

    def _step(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def _flush(self) -> None:
        if pending := self.outgoing.read():
            self.sock.sendall(pending)

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.incoming.write(data)

    def request(self, text: str) -> bytes:
        """The client's Finished and the request in one send; the answer's head back."""
        self.tls.write(text.encode())
        self._flush()
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
            try:
                head += self.tls.read(4096)
            except ssl.SSLWantReadError:
                self._receive()
        return head

    def close(self) -> None:
        self.sock.close()


def get(host: str, port: int, tls_context: ssl.SSLContext) -> dict[str, object]:
    """One connection opened with MSG_FASTOPEN, a TLS 1.3 handshake and one GET."""
    started = time.time()
    connection = Connection(tls_context)
    try:
        connection.open((socket.gethostbyname(host), port))
        head = connection.request(
            f"GET {PATH} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
        )
    finally:
        connection.close()
    status = head.split(b" ", 2)[1:2]
    return {"started": started, "status": int(status[0]) if status else None,
            "version": connection.tls.version()}  # fmt: skip


def run(host: str, port: int, ca: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        keylog = Path(folder) / "keys.log"
        tls_context = context(ca, keylog)
        before = fastopen_active()
        cookie = get(host, port, tls_context)
        time.sleep(0.3)  # apart in the capture
        fast = get(host, port, tls_context)
        after = fastopen_active()
        return {"connections": [cookie, fast], "fastopen_active": after - before,
                "keylog": keylog.read_text()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    print(json.dumps(run(args.host, args.port, args.ca)))


if __name__ == "__main__":
    main()
