"""The gRPC lesson's connection verdict is measured by nginx and can fail."""

from scenarios.grpc import grpc_measured_on_one_connection
from scenarios.grpc.draining import draining_holds


def test_one_connection_verdict_needs_every_call_logged_on_one_connection() -> None:
    one = {"wire": {"requests": 200, "connections": 1}}
    assert grpc_measured_on_one_connection(one, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 200, "connections": 3}}, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 0, "connections": 0}}, 200)


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
