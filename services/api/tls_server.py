"""api-auth served over TLS that requires a client certificate (lesson auth).

nginx reaches api-auth only over mutual TLS: api-auth serves the certificate in
API_TLS_DIR (tls.crt, tls.key; the same pair it presents to pricing-mtls) and
refuses, in the handshake, a client without a certificate the folder's ca.crt
signed. Everything after the handshake is the api as usual.

The host re-issues the pair; every second the server looks at the folder and, once
a whole new pair is there, loads it into the context it serves with: the next
handshake gets it, connections already open keep theirs (OpenSSL copies the
certificate into each connection when it starts). Each new connection logs the
serial of the certificate its client presented, so a run can tell which one nginx
used (scenarios/auth/mutual_tls.py).

    python -m api.tls_server        (API_TLS_DIR, API_TLS_PORT, API_ROOT_PATH)
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from certificates import Folder, serial_of
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("uvicorn.error")  # configured by uvicorn: INFO, to stderr
CHECK_EVERY_S = 1.0


class PeerLogged(HttpToolsProtocol):
    """The api's HTTP/1.1 protocol, logging each connection's client certificate."""

    def connection_made(self, transport: Any) -> None:  # asyncio calls it after the handshake
        peer = transport.get_extra_info("peercert") or {}
        subject = dict(pair for rdn in peer.get("subject", ()) for pair in rdn)
        serial = str(peer.get("serialNumber", "none")).lower().lstrip("0")
        log.info("mutual TLS: client %s presented serial %s", subject.get("commonName"), serial)
        super().connection_made(transport)


def load(context: ssl.SSLContext, files: tuple[bytes, bytes, bytes]) -> None:
    """Serve `files`' pair from the next handshake on. load_cert_chain reads paths only:
    the checked bytes go through a private scratch folder, not the mounted one, which
    the host may be changing at that very moment."""
    cert, key, _ = files
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "tls.crt").write_bytes(cert)
        (Path(scratch) / "tls.key").write_bytes(key)
        context.load_cert_chain(Path(scratch) / "tls.crt", Path(scratch) / "tls.key")
    log.info("mutual TLS: serving certificate serial %x", serial_of(cert))


async def follow(context: ssl.SSLContext, folder: Folder) -> None:
    while True:
        await asyncio.sleep(CHECK_EVERY_S)
        files = folder.changed()
        if files is not None:
            load(context, files)


async def serve(server: uvicorn.Server, context: ssl.SSLContext, folder: Folder) -> None:
    watcher = asyncio.create_task(follow(context, folder))
    try:
        await server.serve()
    finally:
        watcher.cancel()


def main() -> None:
    folder = Folder(os.environ["API_TLS_DIR"])
    config = uvicorn.Config(
        "api.main:app",
        host="0.0.0.0",
        port=int(os.environ.get("API_TLS_PORT", "8443")),
        root_path=os.environ.get("API_ROOT_PATH", ""),
        access_log=False,
        http=PeerLogged,
        ssl_certfile=str(folder.path / "tls.crt"),
        ssl_keyfile=str(folder.path / "tls.key"),
        ssl_ca_certs=str(folder.path / "ca.crt"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    config.load()
    assert config.ssl is not None  # given a certificate, uvicorn made a context
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    log.info("mutual TLS: serving certificate serial %x", serial_of(folder.read()[0]))
    asyncio.run(serve(uvicorn.Server(config), config.ssl, folder))


if __name__ == "__main__":
    main()
