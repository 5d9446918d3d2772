"""Fixtures the unit tests share."""

from collections.abc import Iterator

import grpc
import pytest

from pricing.server import build_server


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    """A channel to a pricing server running in this process (no Docker)."""
    server = build_server()
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    server.stop(grace=None)
