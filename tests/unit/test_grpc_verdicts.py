"""The gRPC lesson's connection verdict is measured by nginx and can fail."""

from scenarios.grpc import grpc_measured_on_one_connection


def test_one_connection_verdict_needs_every_call_logged_on_one_connection() -> None:
    one = {"wire": {"requests": 200, "connections": 1}}
    assert grpc_measured_on_one_connection(one, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 200, "connections": 3}}, 200)
    assert not grpc_measured_on_one_connection({"wire": {"requests": 0, "connections": 0}}, 200)
