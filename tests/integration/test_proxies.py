"""Proxies lesson on the real stack: Squid, the edge nginx, catalog replicas, Toxiproxy.

Asserted on the lesson's run() (conftest's `result`), whose every figure is read
from the parts themselves (Squid's log, nginx's logs, the edge's kernel
counters, the replicas' counts); then a few requests of our own, as a user
would send them, and bad input at each of the lesson's entry points.
"""

from __future__ import annotations

import socket

import httpx

from comms_sandbox import proxies
from comms_sandbox.ports import EDGE, EDGE_PROXY_PROTOCOL, HOST, SQUID
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed

BASE = f"http://{HOST}:{EDGE.port}"


def test_the_whole_run_holds(result: ScenarioResult) -> None:
    assert_holds(result)


def test_squid_sees_a_plain_request_whole_and_of_https_only_the_host(
    result: ScenarioResult,
) -> None:
    part = result.metrics["forward"]
    assert failed(part) == [], part["log"]
    methods = [(line["method"], line["status"]) for line in part["log"]]
    assert methods == [("GET", "TCP_MISS/200"), ("CONNECT", "TCP_TUNNEL/200"),
                       ("GET", "TCP_DENIED/403"), ("CONNECT", "TCP_DENIED/403")]  # fmt: skip


def test_the_lock_turns_a_stampede_of_200_into_one_origin_request(result: ScenarioResult) -> None:
    stampede = result.metrics["caching"]["stampede"]
    assert stampede["with lock"]["origin"] == {"prices 200": 1}, stampede
    assert stampede["without lock"]["origin"]["prices 200"] > 10, stampede


def test_the_wrong_idle_timeout_loses_posts_and_the_right_one_none(result: ScenarioResult) -> None:
    part = result.metrics["keep-alive"]
    assert failed(part) == [], part["clients"]
    assert part["clients"]["POST, edge idle 4 s"]["502s"] == 0


def test_nginx_spends_one_upstream_connection_per_call_in_flight(result: ScenarioResult) -> None:
    ways = result.metrics["multiplexing"]["ways"]
    assert failed(result.metrics["multiplexing"]) == [], ways
    assert ways["gRPC: 1 channel, 100 calls"]["client connections at the proxy"] == 1


def test_sessions_survive_only_where_they_are_shared(result: ScenarioResult) -> None:
    cases = result.metrics["sessions"]["cases"]
    assert failed(result.metrics["sessions"]) == [], cases
    assert cases["Redis, round robin, a replica killed"]["carts lost"] == 0


def test_the_proxy_protocol_carries_the_clients_address(result: ScenarioResult) -> None:
    part = result.metrics["client address"]
    assert failed(part) == [], part


def test_a_cached_answer_says_so_and_keeps_the_origins_etag() -> None:
    with httpx.Client(base_url=BASE, timeout=10) as client:
        first = client.get("/cache/prices?run=by-hand")
        second = client.get("/cache/prices?run=by-hand")
    assert first.headers["X-Cache-Status"] in ("MISS", "HIT", "EXPIRED", "REVALIDATED")
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Cache-Control"] == "public, max-age=2"


def test_bad_input_gets_a_4xx_with_a_reason_and_nothing_is_lost() -> None:
    with httpx.Client(base_url=BASE, timeout=10) as client:
        login = client.post("/sessions/memory/login", json={"user": "x" * 65})
        store = client.post("/sessions/disk/login", json={"user": "ann"})
        no_session = client.get("/sessions/redis/cart")
        # Through the cache nginx drops a client's If-None-Match (it revalidates
        # itself); straight to a replica, one too long is the replica's 422.
        huge = client.get("/direct/prices", headers={"If-None-Match": "x" * 600})
        body = client.post("/sessions/redis/cart", content=b"x" * 20_000)
        after = client.get("/cache/prices?run=after-bad-input")
    assert login.status_code == 422 and "user" in login.text
    assert store.status_code == 422 and "store" in store.text
    assert no_session.status_code == 401 and "log in" in no_session.text
    assert huge.status_code == 422 and "if-none-match" in huge.text.lower()
    assert body.status_code == 413  # nginx's client_max_body_size
    assert after.status_code == 200


def test_squid_refuses_a_port_that_is_not_safe_and_a_host_off_its_list() -> None:
    proxy = f"http://{HOST}:{SQUID.port}"
    with httpx.Client(proxy=proxy, timeout=10) as client:
        off_list = client.get("http://other.outside.test/")
        odd_port = client.get("http://www.outside.test:8080/")
        allowed = client.get("http://www.outside.test/")
    assert off_list.status_code == 403 and odd_port.status_code == 403
    assert allowed.status_code == 200 and allowed.json()["host"] == "www.outside.test"


def test_a_replica_refuses_a_connection_that_does_not_start_with_a_proxy_header() -> None:
    # Through the edge's PROXY-protocol port a header always comes first; the
    # replica's own refusal is unit-tested (tests/unit/test_proxies.py).
    with socket.create_connection((HOST, EDGE_PROXY_PROTOCOL.port), timeout=5) as connection:
        answer = connection.makefile().readline()
    assert '"proxy_protocol": true' in answer
    assert proxies.replicas(), "the catalog replicas are running"
