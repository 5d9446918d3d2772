"""The proxies lesson's pieces that need no Docker: the PROXY header parser, the edge's
config, Squid's config."""

from __future__ import annotations

import pytest
from catalog.whoami import MAX_HEADER, parse_v1

from comms_sandbox import REPO
from proxy.nginx_builder import render
from proxy.proxies import EDGE, RIGHT_IDLE, WRONG_IDLE
from tests.helpers import block


def test_a_proxy_v1_header_gives_the_clients_address() -> None:
    assert parse_v1(b"PROXY TCP4 172.22.0.1 172.21.0.9 36368 9001\r\n") == ("172.22.0.1", 36368)
    assert parse_v1(b"PROXY TCP6 ::1 ::1 4000 9001\r\n") == ("::1", 4000)


@pytest.mark.parametrize("header", [
    b"GET / HTTP/1.1\r\n", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", b"PROXY UNKNOWN\r\n",
    b"PROXY TCP4 999.1.1.1 5.6.7.8 1 2\r\n", b"PROXY TCP4 1.2.3.4 5.6.7.8 0 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 " + b"9" * MAX_HEADER + b" 2\r\n",
])  # fmt: skip
def test_anything_else_is_refused_with_a_reason(header: bytes) -> None:
    with pytest.raises((ValueError, OSError)):
        parse_v1(header)


def test_each_hop_gives_up_on_idle_connections_before_the_next() -> None:
    text = render(EDGE)
    right = block(text, "upstream catalog")
    assert f"keepalive_timeout {RIGHT_IDLE};" in right and RIGHT_IDLE == "4s"
    assert f"keepalive_timeout {WRONG_IDLE};" in block(text, "upstream catalog_link_wrong")
    compose = (REPO / "scenarios" / "proxies" / "compose.yaml").read_text()
    assert '"--timeout-keep-alive", "5"' in compose


def test_requests_with_authorization_neither_read_nor_fill_the_cache() -> None:
    text = render(EDGE)
    cached = block(text, "location /cache/")
    assert "proxy_no_cache $http_authorization;" in cached
    assert "proxy_cache_bypass $http_authorization;" in cached
    assert "proxy_cache_lock on;" in cached
    assert "proxy_cache_lock off;" in block(text, "location /cache-nolock/")


def test_squid_hides_the_client_and_allows_one_site() -> None:
    conf = (REPO / "scenarios" / "proxies" / "squid.conf").read_text()
    assert "forwarded_for delete" in conf
    assert "acl allowlist dstdomain www.outside.test" in conf
    assert conf.index("http_access allow allowlist") < conf.index("http_access deny all")
