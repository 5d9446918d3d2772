"""A real browser for the integration tests: Debian's chromium driven by Playwright.

Nothing is downloaded (`playwright install` never runs); chromium trusts the
proxy's one key, pinned after Python verified it against the local CA.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Request, Response

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


# Chromium abandons a navigation when the host's addresses change under it
# (net::ERR_NETWORK_CHANGED): Docker creating or removing a network gives the host a
# bridge with an IPv4 address, as Compose does when a lesson with a network of its own
# (clusters, databases) first starts beside the page. A container's veth pair alone
# does not (measured: 10 `docker run`s, no cut; 5 `docker network create`s, 34 cut
# requests). That is the machine, not the page: load it again, once settled.
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
NAVIGATION_TRIES = 3


def goto(page: Page, url: str) -> Response | None:
    """page.goto(url), again when Chromium saw the host's interfaces change meanwhile."""
    for attempt in range(1, NAVIGATION_TRIES + 1):
        try:
            return page.goto(url)
        except PlaywrightError as exc:
            if NETWORK_CHANGED not in exc.message or attempt == NAVIGATION_TRIES:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class NetworkChanges:
    """The requests of a page that Chromium failed with NETWORK_CHANGED, as they happen.

    Chromium also ends the page's in-flight fetches and streams when the host's
    addresses change (it closes its HTTP/2 sessions), which the page sees only as
    "Failed to fetch". A test that must tell the machine's doing from the page's
    asks this which of the page's requests the machine cut.
    """

    def __init__(self, page: Page) -> None:
        self.cut: list[str] = []  # their URLs, in order
        page.on("requestfailed", self._failed)

    def _failed(self, request: Request) -> None:
        if request.failure and NETWORK_CHANGED in request.failure:
            self.cut.append(request.url)

    def since(self, mark: int) -> list[str]:
        """The URLs cut after the first `mark` (a len(self.cut) taken earlier)."""
        return self.cut[mark:]
