"""The gRPC part of the generated nginx.conf (no Docker needed)."""

from __future__ import annotations

import pytest

from proxy import grpc
from proxy.nginx_builder import render
from proxy.site import SITE
from tests.helpers import block, lines, server_block


@pytest.fixture(scope="module")
def https_server() -> str:
    return server_block(render(SITE), "8443 ssl")


@pytest.mark.parametrize("service", grpc.PATHS)
def test_each_grpc_service_is_passed_over_http2(https_server: str, service: str) -> None:
    location = lines(block(https_server, f"location /{service}/"))
    assert location[1] == "grpc_pass grpc://pricing_grpc;"
    assert "grpc_set_header X-Request-ID $sandbox_request_id;" in location
    assert "grpc_next_upstream error;" in location  # never replay a call that reached a replica


def test_grpc_replicas_are_found_by_dns_and_kept_alive() -> None:
    upstream = lines(block(render(SITE), "upstream pricing_grpc"))
    assert "server pricing:50051 resolve max_fails=1 fail_timeout=3s;" in upstream
    assert "keepalive 16;" in upstream


def test_l4_grpc_is_a_plain_tcp_proxy_on_its_own_port() -> None:
    stream = block(render(SITE), "stream")
    assert "listen 8445;" in lines(stream)
    assert "proxy_pass pricing_l4;" in lines(stream)


def test_the_https_server_keeps_a_connection_for_10000_requests(https_server: str) -> None:
    """nginx reads both limits from the server a connection belongs to, so they must be at
    server level: 1000 (the default) drained a gRPC channel every 1000 calls."""
    server_level = lines(https_server.split("location ", 1)[0])
    assert "keepalive_requests 10000;" in server_level
    assert "keepalive_time 1h;" in server_level
    assert grpc.KEEPALIVE_REQUESTS > 5000  # ghz's 5000 calls on one connection fit
