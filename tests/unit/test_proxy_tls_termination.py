"""The TLS part of the generated nginx.conf, and no private key in git (no Docker needed)."""

from __future__ import annotations

import subprocess

import pytest

from comms_sandbox import REPO
from proxy import tls_termination
from proxy.nginx_builder import render
from proxy.site import SITE
from tests.helpers import block, lines, server_block


@pytest.fixture(scope="module")
def conf() -> str:
    return render(SITE)


@pytest.fixture(scope="module")
def https_server(conf: str) -> str:
    return server_block(conf, "8443 ssl")


def test_plain_http_redirects_with_308_except_health(conf: str) -> None:
    plain = server_block(conf, "8080")
    assert lines(block(plain, "location /")) == [
        "location / {",
        "return 308 https://$host:8443$request_uri;",
        "}",
    ]
    for health in ("= /nginx-health", "= /healthz", "= /readyz"):
        assert "return 308" not in block(plain, f"location {health}")
    assert "location /lb/" not in plain  # everything else moves to HTTPS


def test_termination_allows_only_tls12_and_13_with_http2(https_server: str) -> None:
    server = lines(https_server)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in server
    assert "http2 on;" in server
    assert "ssl_certificate /etc/nginx/tls/server.pem;" in server
    ciphers = next(line for line in server if line.startswith("ssl_ciphers "))
    assert all("GCM" in c or "CHACHA20" in c for c in ciphers[12:-1].split(":"))


def test_every_proxied_https_location_sends_hsts(https_server: str) -> None:
    for path in ("/", "/lb/weighted/", "/reencrypt/"):
        location = lines(block(https_server, f"location {path}"))
        hsts = [line for line in location if "Strict-Transport-Security" in line]
        assert hsts == ['add_header Strict-Transport-Security "max-age=300" always;'], path


def test_reencryption_verifies_the_backend_name_and_chain(https_server: str) -> None:
    good = lines(block(https_server, "location /reencrypt/"))
    for expected in (
        "proxy_pass https://api_tls/;",
        "proxy_ssl_verify on;",
        "proxy_ssl_trusted_certificate /etc/nginx/tls/ca.pem;",
        "proxy_ssl_name api-tls;",
    ):
        assert expected in good
    wrong = lines(block(https_server, "location /reencrypt-wrong-ca/"))
    assert "proxy_ssl_trusted_certificate /etc/nginx/tls/wrong-ca.pem;" in wrong
    # Its own upstream: kept-alive connections verified by the good path are not borrowed.
    assert "proxy_pass https://api_tls_wrong_ca/;" in wrong


def test_passthrough_routes_by_sni_and_refuses_unknown_names(conf: str) -> None:
    stream = block(conf, "stream")
    assert lines(block(stream, "map $ssl_preread_server_name $passthrough_backend")) == [
        "map $ssl_preread_server_name $passthrough_backend {",
        "passthrough.localhost api_tls_passthrough;",
        f"default {tls_termination.NOWHERE};",
        "}",
    ]
    assert "ssl_preread on;" in lines(stream)
    assert "ssl_certificate" not in stream  # nginx holds no key for passthrough


def test_git_tracks_no_private_key() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if path.endswith((".key", ".pem", ".p12"))]
    grep = subprocess.run(
        ["git", "grep", "-l", "-e", "BEGIN PRIVATE KEY", "-e", "BEGIN EC PRIVATE KEY"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    # Only code that names the marker may match, never a key.
    assert set(grep.stdout.split()) <= {"tests/unit/test_proxy_tls_termination.py"}


def test_no_long_lived_hsts_for_localhost(https_server: str) -> None:
    """HSTS binds the host name on every port (RFC 6797, 8.3): a year for `localhost` would
    force HTTPS on every local development server; a few minutes expires by itself."""
    headers = {line for line in lines(https_server) if "Strict-Transport-Security" in line}
    (header,) = headers
    max_age = int(header.split("max-age=", 1)[1].split('"', 1)[0])
    assert 0 < max_age <= 3600, header
    assert "includeSubDomains" not in header and "preload" not in header
