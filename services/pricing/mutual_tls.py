"""Mutual TLS on a second pricing port (lesson auth: scenarios/auth/README.md).

A client must present a certificate the sandbox's CA signed: one without, or with
one from another CA, is refused in the handshake, before any call. The files come
from a mounted folder (tls.crt, tls.key, ca.crt) that the host re-issues: gRPC asks
`CertificateFiles.changed` at each new connection's handshake, and a pair that
changed on disk is served from then on, with no restart. Connections already open
keep the certificate they were made with.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

log = logging.getLogger(__name__)
FILES = ("tls.crt", "tls.key", "ca.crt")


class CertificateFiles:
    """The folder's pair and CA, as gRPC's dynamic server credentials want them."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.stamp = self.mtimes()
        self.current = self.configuration()

    def mtimes(self) -> tuple[int, ...]:
        return tuple((self.folder / name).stat().st_mtime_ns for name in FILES)

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        cert, key, ca = ((self.folder / name).read_bytes() for name in FILES)
        if not pair_matches(cert, key):
            raise ValueError(f"{self.folder}: tls.key is not tls.crt's key")
        log.info("mutual TLS: serving certificate serial %x", serial_of(cert))
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def changed(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when the files changed on disk, else None (no change).
        A pair caught half-written (the key renamed in, not yet its certificate) is
        left for the next handshake to pick up."""
        try:
            stamp = self.mtimes()
            if stamp == self.stamp:
                return None
            configuration = self.configuration()
        except (OSError, ValueError) as error:
            log.warning("mutual TLS: keeping the certificate in use: %s", error)
            return None
        self.stamp = stamp
        return configuration


def pair_matches(cert: bytes, key: bytes) -> bool:
    public = x509.load_pem_x509_certificate(cert).public_key()
    return load_pem_private_key(key, password=None).public_key() == public


def serial_of(cert: bytes) -> int:
    return x509.load_pem_x509_certificate(cert).serial_number


def server_credentials(folder: str) -> grpc.ServerCredentials:
    """Credentials that require a client certificate signed by the folder's ca.crt."""
    files = CertificateFiles(folder)
    return grpc.dynamic_ssl_server_credentials(
        files.current, files.changed, require_client_authentication=True
    )
