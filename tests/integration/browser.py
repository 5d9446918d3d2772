"""A real browser for the integration tests: Debian's chromium driven by Playwright.

Nothing is downloaded (`playwright install` never runs); chromium trusts the
proxy's one key, pinned after Python verified it against the local CA.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from comms_sandbox import config, ports

CHROMIUM = Path("/usr/bin/chromium")


def proxy_key_pin() -> str:
    """The proxy's public key as Chromium pins it: base64(SHA-256(SubjectPublicKeyInfo)).

    Python first verifies the proxy's certificate against the sandbox's local CA
    (chain and name, as every other test does); Chromium is then told to accept
    that one key, with --ignore-certificate-errors-spki-list. Chromium has no
    flag to add a CA root, and importing one means writing an NSS database with
    certutil (another package) or a system-wide policy under /etc. The pin is
    narrower than ignore_https_errors, which would accept any certificate.
    """
    with (
        socket.create_connection((ports.HOST, ports.PROXY_TLS.port), timeout=10) as raw,
        config.tls_context().wrap_socket(raw, server_hostname=ports.HOST) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
