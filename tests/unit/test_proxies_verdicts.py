"""The proxies lesson's verdicts, fed a clean run and, one property at a time, a broken one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from scenarios.proxies import caching, client_address, forward, keepalive, multiplexing, sessions


def failing(judge: Callable[[Any], dict[str, bool]], clean: Any,
            breakage: Callable[[Any], None]) -> list[str]:  # fmt: skip
    """The checks that fail once `breakage` changed a copy of the clean run (all hold before)."""
    assert all(judge(clean).values()), judge(clean)
    broken = copy.deepcopy(clean)
    breakage(broken)
    return [name for name, holds in judge(broken).items() if not holds]


# Forward ---------------------------------------------------------------------------------

SQUID = {"squid outside": "172.18.0.3", "squid inside": "172.23.0.2", "site": "172.18.0.2"}


def site_body(peer: str = "172.18.0.3", headers: dict[str, str] | None = None) -> str:
    return json.dumps({"peer": peer, "headers": headers or {"Host": "www.outside.test"}})


def line(method: str, url: str, status: str, headers: str = "-", sent: int = 500
         ) -> dict[str, Any]:  # fmt: skip
    return {"client": "172.23.0.3", "method": method, "url": url, "status": status,
            "bytes_sent": sent, "headers": headers}  # fmt: skip


def clean_forward() -> dict[str, Any]:
    return {
        "proxied": [{"status": 200, "body": site_body()}, {"status": 200, "body": site_body()},
                    {"status": 403}, {"status": None, "error": "Tunnel connection failed: 403"}],
        "direct": [{"status": None, "error": "TimeoutError: timed out"}],
        "log": [line("GET", forward.PLAIN, "TCP_MISS/200", "User-Agent: x\nHost: y"),
                line("CONNECT", "www.outside.test:443", "TCP_TUNNEL/200", sent=1900),
                line("GET", "http://other.outside.test/", "TCP_DENIED/403", "User-Agent: x"),
                line("CONNECT", "other.outside.test:443", "TCP_DENIED/403")],
    }  # fmt: skip


def judge_forward(m: dict[str, Any]) -> dict[str, bool]:
    return forward.holds(m["proxied"], m["direct"], m["log"], SQUID)


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["direct"][0].update(status=200), "not without it"),
    (lambda m: m["log"][0].update(url="http://www.outside.test/catalogue?"), "full URL"),
    (lambda m: m["log"][1].update(url=f"https://www.outside.test{forward.SECRET_PATH}"),
     "only CONNECT"),
    (lambda m: m["log"].append(line("GET", f"http://x{forward.SECRET_PATH}", "TCP_MISS/200")),
     "only CONNECT"),
    (lambda m: m["log"].pop(), "allowlist"),
    (lambda m: m["proxied"][0].update(body=site_body("172.23.0.3")), "Squid's address"),
    (lambda m: m["proxied"][0].update(body=site_body(headers={"X-Forwarded-For": "a"})),
     "X-Forwarded-For"),
])  # fmt: skip
def test_each_forward_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                      check: str) -> None:  # fmt: skip
    failed = failing(judge_forward, clean_forward(), breakage)
    assert len(failed) == 1 and check in failed[0], failed


def test_squids_log_line_is_read_field_by_field() -> None:
    logged = ('1796616101.622 172.23.0.3 TCP_MISS/200 480 152 GET '
              'http://www.outside.test/a?b=1 172.18.0.2 "Host: w\\r\\nX: y\\r\\n"')  # fmt: skip
    parsed = forward.parse_line(logged)
    assert parsed["url"] == "http://www.outside.test/a?b=1" and parsed["bytes_sent"] == 480
    assert parsed["headers"] == "Host: w\nX: y"
    with pytest.raises(ValueError, match="logformat"):
        forward.parse_line("garbage")


# Caching ---------------------------------------------------------------------------------


def answers(cache: dict[str, int], statuses: dict[str, int] | None = None,
            sequence: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    total = sum(cache.values())
    return {"cache": cache, "statuses": statuses or {"200": total},
            "sequence": sequence or [k for k, n in cache.items() for _ in range(n)]}  # fmt: skip


def clean_caching() -> dict[str, Any]:
    n = caching.COLD_GETS
    return {
        "stampede": {
            "without lock": {"answers": answers({"MISS": n}), "origin": {"prices 200": n}},
            "with lock": {"answers": answers({"MISS": 1, "HIT": n - 1}),
                          "origin": {"prices 200": 1}},
        },
        "never cached": {
            "Cache-Control: private": {"answers": answers({"MISS": 2}), "origin": {"p": 2}},
            "Set-Cookie": {"answers": answers({"MISS": 2}), "origin": {"c": 2}},
            "Authorization": {"answers": answers({"BYPASS": 2, "MISS": 1}),
                              "origin": {"prices 200": 3}},
        },
        "vary": {"answers": answers({"MISS": 2, "HIT": 3},
                                    sequence=["MISS", "HIT", "MISS", "HIT", "HIT"]),
                 "origin": {"en 200": 1, "de 200": 1}},
        "revalidated": {"answers": answers({"REVALIDATED": 1}),
                        "origin": {"prices 304": 1, "prices 200": 0}},
        "stale": {"answers": answers({"STALE": caching.STALE_GETS})},
    }  # fmt: skip


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["stampede"]["without lock"]["origin"].update({"prices 200": 3}), "many times"),
    (lambda m: m["stampede"]["with lock"]["origin"].update({"prices 200": 2}), "once"),
    (lambda m: m["revalidated"]["origin"].update({"prices 304": 0, "prices 200": 1}),
     "revalidates"),
    (lambda m: m["stale"]["answers"]["statuses"].update({"200": 9, "502": 1}), "STALE"),
    (lambda m: m["never cached"]["Set-Cookie"]["origin"].update({"c": 1}), "never cached"),
    (lambda m: m["never cached"]["Authorization"]["answers"].update(
        sequence=["BYPASS", "BYPASS", "HIT"]), "never cached"),
    (lambda m: m["vary"]["origin"].update({"de 200": 0}), "Vary"),
])  # fmt: skip
def test_each_caching_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                      check: str) -> None:  # fmt: skip
    failed = failing(caching.holds, clean_caching(), breakage)
    assert len(failed) == 1 and check in failed[0], failed


# Keep-alive ------------------------------------------------------------------------------


def client(logged: list[int], reasons: int, retried: int = 0) -> dict[str, Any]:
    return {"logged": logged, "502s": logged.count(502), "retried": retried,
            "reasons": ["upstream prematurely closed connection"] * reasons}  # fmt: skip


def clean_keepalive() -> dict[str, Any]:
    return {"POST, edge idle 60 s": client([200, 502, 200, 502], 2),
            "GET, edge idle 60 s": client([200] * 4, 3, retried=3),
            "POST, edge idle 4 s": client([200] * 4, 0)}  # fmt: skip


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["POST, edge idle 60 s"].update(client([200] * 4, 0)), "get 502s"),
    (lambda m: m["POST, edge idle 60 s"].update(reasons=[]), "get 502s"),
    (lambda m: m["POST, edge idle 4 s"].update(client([200, 502, 200, 200], 1)), "0 502s"),
    (lambda m: m["GET, edge idle 60 s"].update(retried=0), "sent again"),
    (lambda m: m["GET, edge idle 60 s"].update(client([200, 502, 200, 200], 1, 2)),
     "sent again"),
])  # fmt: skip
def test_each_keepalive_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                        check: str) -> None:  # fmt: skip
    failed = failing(keepalive.holds, clean_keepalive(), breakage)
    assert len(failed) == 1 and check in failed[0], failed


# Multiplexing ----------------------------------------------------------------------------


def way(answered: int, clients: int, opened: int, carried: int | None) -> dict[str, Any]:
    return {"answered": answered, "client connections at the proxy": clients,
            "connections the proxy opened": opened,
            "upstream connections that carried them": carried}  # fmt: skip


def clean_multiplexing() -> dict[str, Any]:
    n = multiplexing.STREAMS
    return {"h2": way(n, 1, n, n), "h1": way(n, n, 68, n), "grpc": way(n, 1, n, None)}


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["h2"].update(way(100, 2, 100, 100)), "HTTP/2 streams"),
    (lambda m: m["h2"].update(way(100, 1, 1, 1)), "HTTP/2 streams"),
    (lambda m: m["h1"].update(way(100, 60, 60, 60)), "HTTP/1.1 clients"),
    (lambda m: m["grpc"].update(way(100, 1, 1, None)), "gRPC"),
    (lambda m: m["grpc"].update(way(99, 1, 100, None)), "gRPC"),
])  # fmt: skip
def test_each_multiplexing_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                           check: str) -> None:  # fmt: skip
    failed = failing(multiplexing.holds, clean_multiplexing(), breakage)
    assert len(failed) == 1 and check in failed[0], failed


# Sessions --------------------------------------------------------------------------------


def case(unauthorized: int, lost: int) -> dict[str, int]:
    return {"shoppers": 40, "401s": unauthorized, "carts lost": lost}


def clean_sessions() -> dict[str, Any]:
    return {"memory, round robin": case(80, 40), "Redis, round robin": case(0, 0),
            "memory, sticky": case(0, 0), "memory, sticky, a replica killed": case(13, 13),
            "Redis, round robin, a replica killed": case(0, 0),
            "memory, sticky, a replica added": case(10, 10)}  # fmt: skip


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["memory, round robin"].update(case(0, 0)), "get 401s"),
    (lambda m: m["Redis, round robin, a replica killed"].update(case(1, 1)), "Redis"),
    (lambda m: m["memory, sticky"].update(case(2, 2)), "while every replica lives"),
    (lambda m: m["memory, sticky, a replica added"].update(case(0, 0)), "is added"),
])  # fmt: skip
def test_each_sessions_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                       check: str) -> None:  # fmt: skip
    failed = failing(sessions.holds, clean_sessions(), breakage)
    assert len(failed) == 1 and check in failed[0], failed


# Client address --------------------------------------------------------------------------


def clean_client_address() -> dict[str, Any]:
    return {"edge address": "172.21.0.9",
            "answers": {"without": {"client": "172.21.0.9"},
                        "with PROXY protocol": {"client": "172.22.0.1"}},
            "nginx saw": {"without": "172.22.0.1", "with PROXY protocol": "172.22.0.1"},
            "replica logged": 'whoami: {"client": "172.22.0.1"}'}  # fmt: skip


@pytest.mark.parametrize(("breakage", "check"), [
    (lambda m: m["answers"]["without"].update(client="172.22.0.1"), "proxy's address"),
    (lambda m: m["answers"]["with PROXY protocol"].update(client="172.21.0.9"), "with it"),
    (lambda m: m.update({"replica logged": ""}), "with it"),
])  # fmt: skip
def test_each_client_address_check_fails_on_its_own_breakage(breakage: Callable[[Any], None],
                                                             check: str) -> None:  # fmt: skip
    failed = failing(client_address.holds, clean_client_address(), breakage)
    assert len(failed) == 1 and check in failed[0], failed
