"""The load-balancing part of the generated nginx.conf (no Docker needed)."""

from __future__ import annotations

import pytest

from proxy import load_balancing as lb
from proxy.nginx_builder import render
from proxy.site import FRESH_PICK, SITE
from tests.helpers import block, lines, server_block


@pytest.fixture(scope="module")
def conf() -> str:
    return render(SITE)


def servers(conf: str, upstream: str) -> list[str]:
    return [
        line for line in lines(block(conf, f"upstream {upstream}")) if line.startswith("server ")
    ]


@pytest.mark.parametrize(
    ("method", "upstream"),
    [("round-robin", "api"), ("weighted", "api_weighted"), ("least-conn", "api_least_conn"),
     ("hash", "api_hash")],
)  # fmt: skip
def test_each_method_has_its_path_and_strips_the_prefix(
    conf: str, method: str, upstream: str
) -> None:
    location = lines(block(conf, f"location /lb/{method}/"))
    assert f"proxy_pass http://{upstream}/;" in location
    assert f"add_header X-LB-Method {method} always;" in location
    assert "proxy_set_header X-Request-ID $sandbox_request_id;" in location


def test_weighted_lists_each_replica_by_name_with_its_weight(conf: str) -> None:
    assert servers(conf, "api_weighted") == [
        "server comms-sandbox-api-1:8000 resolve max_fails=1 fail_timeout=3s weight=3;",
        "server comms-sandbox-api-2:8000 resolve max_fails=1 fail_timeout=3s;",
        "server comms-sandbox-api-3:8000 resolve max_fails=1 fail_timeout=3s;",
    ]


def test_least_conn_and_hash_methods(conf: str) -> None:
    assert lines(block(conf, "upstream api_least_conn"))[1] == "least_conn;"
    hashed = lines(block(conf, "upstream api_hash"))
    assert hashed[1] == "hash $lb_client_key consistent;"
    # The ketama ring hashes server names: one name per replica, or all points collide.
    assert len(set(servers(conf, "api_hash"))) == lb.REPLICAS


def test_hash_key_falls_back_to_the_client_address(conf: str) -> None:
    assert lines(block(conf, "map $http_x_client_key $lb_client_key")) == [
        "map $http_x_client_key $lb_client_key {",
        '"" $remote_addr;',
        "default $http_x_client_key;",
        "}",
    ]


def test_every_upstream_resolves_at_run_time_from_shared_memory(conf: str) -> None:
    for upstream in [*lb.UPSTREAMS, lb.L4_UPSTREAM]:
        body = lines(block(conf, f"upstream {upstream.name}"))
        assert f"zone {upstream.name} 64k;" in body
        assert all(" resolve " in line for line in body if line.startswith("server "))


def test_l4_balances_tcp_connections_on_its_own_port(conf: str) -> None:
    stream = block(conf, "stream")
    assert "listen 8081;" in lines(stream)
    assert "proxy_pass api_l4;" in lines(stream)
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in lines(stream)
    assert "access_log /dev/stdout l4;" in lines(stream)
    assert "X-Forwarded-For" not in stream  # L4 cannot add headers


def test_the_catch_all_location_stays_round_robin(conf: str) -> None:
    for listen in ("8443 ssl", "8090"):
        server = server_block(conf, listen)
        assert lines(block(server, "location /"))[1] == "proxy_pass http://api;"


@pytest.mark.parametrize("listen", ["8090", "8443 ssl"])
def test_an_nginx_made_502_sends_only_idempotent_requests_through_again(
    conf: str, listen: str
) -> None:
    """nginx/nginx#1656's workaround (proxy/site.py FRESH_PICK): the catch-all's own 502s
    go once more through the api, as a new pick, for GET, HEAD and OPTIONS only."""
    server = server_block(conf, listen)
    assert f"error_page 502 = {FRESH_PICK};" in lines(block(server, "location /"))
    fresh = block(server, f"location {FRESH_PICK}")
    refusal = lines(block(fresh, "if ($request_method !~ ^(GET|HEAD|OPTIONS)$)"))
    assert refusal[1:-1] == ["return 502;"]
    assert "proxy_pass http://api;" in lines(fresh)
    # Its own 502 is final: nginx follows no error_page from it (recursive_error_pages off).
    assert not any(line.startswith("error_page") for line in lines(fresh))
    assert "recursive_error_pages" not in conf
