"""The gRPC lesson's checks can fail; its connection verdict is measured by nginx."""

from __future__ import annotations

import threading
from typing import Any

from scenarios.grpc import CALLS, checks, grpc_measured_on_one_connection
from scenarios.grpc.draining import _schedule, draining_holds
from tests.unit.verdict_cases import Breakage, verdict_tests


def test_one_connection_verdict_needs_every_call_logged_on_one_connection() -> None:
    one = {"wire": {"requests": 200, "connections": 1}}
    assert grpc_measured_on_one_connection(one, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 200, "connections": 3}}, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 0, "connections": 0}}, 200)


def clean_run() -> dict[str, Any]:
    return {
        "kinds": {
            "server_streaming": [1, 2, 3, 4, 5],
            "client_streaming": {"items": 3, "total_cents": 3400},
            "bidirectional": [
                {"offered_cents": 300, "accepted": False},
                {"offered_cents": 900, "accepted": True},
            ],
            "deadline": "DEADLINE_EXCEEDED",
            "invalid_argument": {"code": "INVALID_ARGUMENT", "fields": ["sku"]},
            "health": "SERVING",
            "reflection": ["grpc.health.v1.Health", "sandbox.pricing.v1.PricingService"],
        },
        "balancing": {
            "L7 nginx grpc_pass (8443)": {"pricing-1": 10, "pricing-2": 10},
            "L4 nginx stream (8445)": {"pricing-2": 20},
        },
        "rest_vs_grpc": {"gRPC, HTTP/2": {"wire": {"requests": CALLS, "connections": 1}}},
        "draining": {"calls": 2500, "outcomes": {"OK": 2500}, "calls_per_connection": [1878, 622]},
    }


BROKEN: dict[str, tuple[Breakage, str]] = {
    "a tick missing": (
        lambda m: m["kinds"].update(server_streaming=[1, 2, 4, 5]),
        "server streaming: ticks 1 to 5 in order",
    ),
    "an item lost": (
        lambda m: m["kinds"]["client_streaming"].update(items=2),
        "client streaming: 3 items in one reply",
    ),
    "never accepted": (
        lambda m: m["kinds"]["bidirectional"][-1].update(accepted=False),
        "bidirectional: ends accepted",
    ),
    "the deadline not enforced": (
        lambda m: m["kinds"].update(deadline="OK"),
        "a short deadline ends in DEADLINE_EXCEEDED",
    ),
    "a bad sku answered INTERNAL": (
        lambda m: m["kinds"]["invalid_argument"].update(code="INTERNAL"),
        "a bad sku is INVALID_ARGUMENT naming the field",
    ),
    "no field named": (
        lambda m: m["kinds"]["invalid_argument"].update(fields=[]),
        "a bad sku is INVALID_ARGUMENT naming the field",
    ),
    "not serving": (
        lambda m: m["kinds"].update(health="NOT_SERVING"),
        "health says SERVING",
    ),
    "reflection without pricing": (
        lambda m: m["kinds"].update(reflection=["grpc.health.v1.Health"]),
        "reflection lists the pricing service",
    ),
    "L7 pinned to one replica": (
        lambda m: m["balancing"].update({"L7 nginx grpc_pass (8443)": {"pricing-1": 20}}),
        "L7 spreads calls over at least 2 replicas",
    ),
    "L4 spread over two": (
        lambda m: m["balancing"].update(
            {"L4 nginx stream (8445)": {"pricing-1": 10, "pricing-2": 10}}
        ),
        "L4 pins the connection to 1 replica",
    ),
    "gRPC on three connections": (
        lambda m: m["rest_vs_grpc"]["gRPC, HTTP/2"]["wire"].update(connections=3),
        "gRPC: every call on one connection, counted by nginx",
    ),
    "calls lost to a GOAWAY": (
        lambda m: m["draining"].update(outcomes={"OK": 2475, "UNAVAILABLE": 25}),
        "draining: every call answered OK",
    ),
    "the reload never drained the connection": (
        lambda m: m["draining"].update(calls_per_connection=[2500]),
        "draining: the reload moved the channel to a new connection",
    ),
    "nginx's old limit of 1000 calls": (
        lambda m: m["draining"].update(calls_per_connection=[1000, 1000, 500]),
        "draining: one connection carried more than 1000 calls",
    ),
}


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    checks, clean_run, BROKEN
)


def drained(outcomes: dict[str, int], per_connection: list[int]) -> dict[str, bool]:
    return draining_holds({"calls": 2500, "outcomes": outcomes,
                           "calls_per_connection": per_connection})  # fmt: skip


def test_draining_holds_only_with_no_failure_a_new_connection_and_a_long_first_one() -> None:
    assert all(drained({"OK": 2500}, [1500, 1000]).values())
    lost = drained({"OK": 2475, "UNAVAILABLE": 25}, [1500, 1000])
    assert not lost["every call answered OK"]
    never_drained = drained({"OK": 2500}, [2500])
    assert not never_drained["the reload moved the channel to a new connection"]
    old_limit = drained({"OK": 2500}, [1000, 1000, 500])
    assert not old_limit["one connection carried more than 1000 calls"]
    assert not drained({"OK": 2500}, [])["one connection carried more than 1000 calls"]


def test_the_draining_run_calls_on_while_nginx_reloads_then_a_fixed_number_more() -> None:
    reloading, reloaded = threading.Event(), threading.Event()
    numbers = _schedule(3, 2, reloading, reloaded)
    assert [next(numbers) for _ in range(3)] == [0, 1, 2]
    assert not reloading.is_set()
    assert [next(numbers) for _ in range(4)] == [3, 4, 5, 6]  # nginx still reloading
    assert reloading.is_set()
    reloaded.set()
    assert list(numbers) == [7, 8]
