"""Mutual TLS on a second pricing port (lesson auth: scenarios/auth/README.md).

A client must present a certificate the sandbox's CA signed: one without, or with
one from another CA, is refused in the handshake, before any call. The files come
from a mounted folder (tls.crt, tls.key, ca.crt) that the host re-issues: gRPC asks
`changed` at each new connection's handshake, and a pair that changed on disk is
served from then on, with no restart. Connections already open keep the
certificate they were made with.
"""

from __future__ import annotations

import logging

import grpc
from certificates import Folder, serial_of

log = logging.getLogger(__name__)


def configuration(files: tuple[bytes, bytes, bytes]) -> grpc.ServerCertificateConfiguration:
    cert, key, ca = files
    log.info("mutual TLS: serving certificate serial %x", serial_of(cert))
    return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


def server_credentials(folder: str) -> grpc.ServerCredentials:
    """Credentials that require a client certificate signed by the folder's ca.crt."""
    files = Folder(folder)

    def changed() -> grpc.ServerCertificateConfiguration | None:
        new = files.changed()
        return None if new is None else configuration(new)

    return grpc.dynamic_ssl_server_credentials(
        configuration(files.read()), changed, require_client_authentication=True
    )
