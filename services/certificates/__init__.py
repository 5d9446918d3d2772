"""A mounted folder with a service's TLS identity: tls.crt, tls.key and ca.crt (lesson
auth: scenarios/auth/README.md).

The host re-issues the pair (each file by an atomic rename, the key first), so a
reader can catch the folder half-way: the new key beside the old certificate.
`Folder.changed()` says a new pair is there only once the files changed on disk and
the key is the certificate's; until then the caller keeps what it serves.
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

FILES = ("tls.crt", "tls.key", "ca.crt")


class Folder:
    """The folder's files as they were when last taken (`take()`), and whether they
    changed since (`changed()`, looked at no more often than every `check_every_s`)."""

    def __init__(self, folder: str, check_every_s: float = 0.0) -> None:
        self.path = Path(folder)
        self.check_every_s = check_every_s
        self.checked_at = time.monotonic()
        self.stamp = self.mtimes()

    def mtimes(self) -> tuple[int, ...]:
        return tuple((self.path / name).stat().st_mtime_ns for name in FILES)

    def read(self) -> tuple[bytes, bytes, bytes]:
        """Certificate, key and CA, as bytes; ValueError if the key is not the
        certificate's."""
        cert, key, ca = ((self.path / name).read_bytes() for name in FILES)
        if not pair_matches(cert, key):
            raise ValueError(f"{self.path}: tls.key is not tls.crt's key")
        return cert, key, ca

    def changed(self) -> tuple[bytes, bytes, bytes] | None:
        """The new files when they changed on disk and the pair is whole, else None."""
        now = time.monotonic()
        if now - self.checked_at < self.check_every_s:
            return None
        self.checked_at = now
        try:
            stamp = self.mtimes()
            if stamp == self.stamp:
                return None
            files = self.read()
        except (OSError, ValueError):
            return None  # caught mid-rotation: a later check sees the whole pair
        self.stamp = stamp
        return files


def pair_matches(cert: bytes, key: bytes) -> bool:
    public = x509.load_pem_x509_certificate(cert).public_key()
    return load_pem_private_key(key, password=None).public_key() == public


def serial_of(cert: bytes) -> int:
    return x509.load_pem_x509_certificate(cert).serial_number
