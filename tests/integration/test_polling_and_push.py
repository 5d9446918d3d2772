"""The feed on the real stack: the scenario's run(), then each method's contract and bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from testcontainers.compose import DockerCompose
from websockets.exceptions import ConnectionClosed

from comms_sandbox import config, feed
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds


def side(result: ScenarioResult) -> dict[str, Any]:
    return result.metrics["side_by_side"]


def test_every_method_delivers_every_event_to_every_client(result: ScenarioResult) -> None:
    for method, m in side(result)["methods"].items():
        assert m["delivered_all"], (method, m["gaps"])
        assert m["clients"] == 5


def test_short_polling_waits_for_its_interval_and_the_streams_do_not(
    result: ScenarioResult,
) -> None:
    measured = side(result)
    methods = measured["methods"]
    # Each event within its own poll cycle, as measured (verdicts.short_poll_delay_bounded),
    # not within a fixed interval + 500 ms: on a busy machine a cycle took 2.1 s.
    assert measured["holds"]["short polling's delay is bounded by one poll cycle"], (
        methods["short-poll"]["delay_ms"],
        measured["poll_cycle_ms"],
    )
    for streaming in ("long-poll", "sse", "websocket", "grpc"):
        assert methods[streaming]["delay_ms"]["p50"] < methods["short-poll"]["delay_ms"]["p50"]


def test_long_polling_is_almost_never_empty_and_streams_use_one_connection(
    result: ScenarioResult,
) -> None:
    methods = side(result)["methods"]
    assert methods["long-poll"]["empty_answers"] <= methods["long-poll"]["clients"]
    for streaming in ("sse", "websocket"):
        assert methods[streaming]["requests_at_proxy"] == methods[streaming]["clients"]
        assert methods[streaming]["bytes_at_proxy"] > 0  # counted by nginx, not computed


def test_streams_resume_after_a_replica_kill_with_nothing_lost_or_repeated(
    result: ScenarioResult,
) -> None:
    failover = result.metrics["failover"]
    for method, m in failover["methods"].items():
        assert m["on_the_killed_replica"] >= 1, method
        assert m["reconnects"] >= m["on_the_killed_replica"], method
        assert all(g == {"missing": 0, "duplicates": 0} for g in m["gaps"].values()), method
    assert_holds(result)


@pytest.fixture
def https(stack: DockerCompose) -> httpx.Client:
    with httpx.Client(base_url=config.proxy_url(), verify=config.tls_context(), timeout=10) as c:
        yield c


def latest(https: httpx.Client) -> int:
    return https.get("/feed/events", params={"after": 0, "limit": 1}).json()["latest"]


def test_short_polling_answers_304_when_nothing_changed(https: httpx.Client) -> None:
    now = latest(https)
    first = https.get("/feed/events", params={"after": now})
    assert first.status_code == 200 and first.json()["events"] == []
    unchanged = {"If-None-Match": first.headers["etag"]}
    again = https.get("/feed/events", params={"after": now}, headers=unchanged)
    assert again.status_code == 304
    # A client that is behind gets its events, whatever ETag it sends.
    https.post("/feed/events", json={"order_id": "ETAG-1", "status": "paid"})
    newest = {"If-None-Match": f'"{now + 1}"'}
    behind = https.get("/feed/events", params={"after": now}, headers=newest)
    assert behind.status_code == 200 and len(behind.json()["events"]) == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/feed/events", {"after": -1}),
        ("/feed/events", {"after": "x"}),
        ("/feed/events", {"limit": 0}),
        ("/feed/events", {"limit": 10_000}),
        ("/feed/events/wait", {"timeout_s": 600}),
        ("/feed/stream", {"after": -5}),
    ],
)
def test_invalid_polling_parameters_are_422(
    https: httpx.Client, path: str, params: dict[str, Any]
) -> None:
    response = https.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_a_position_ahead_of_the_feed_is_a_400_that_says_where_to_start(
    https: httpx.Client,
) -> None:
    ahead = latest(https) + 1000
    for response in (
        https.get("/feed/events", params={"after": ahead}),
        https.get("/feed/stream", headers={"Last-Event-ID": str(ahead)}),
    ):
        assert response.status_code == 400
        assert "ahead of the feed" in response.json()["detail"]
    bad = https.get("/feed/stream", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and "whole number" in bad.json()["detail"]


def test_invalid_events_are_422(https: httpx.Client) -> None:
    for body in ({"order_id": "x" * 100, "status": "paid"}, {"order_id": "A", "status": "lost"}):
        assert https.post("/feed/events", json=body).status_code == 422


def test_sse_goes_through_nginx_unbuffered_with_ids_and_retry(https: httpx.Client) -> None:
    now = latest(https)
    published = https.post("/feed/events", json={"order_id": "SSE-1", "status": "placed"}).json()
    with https.stream("GET", "/feed/stream", params={"after": now}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen: list[str] = []
        for line in stream.iter_lines():
            seen.append(line)
            if line.startswith("data:"):
                break
    assert any(line.startswith("retry:") for line in seen)
    assert f"id: {published['id']}" in seen
    assert "event: order-status" in seen


async def websocket_session(actions: list[str | bytes]) -> tuple[list[dict[str, Any]], int | None]:
    """Send each action on a fresh socket; the JSON messages received and the close code."""
    received: list[dict[str, Any]] = []
    async with websockets.connect(
        feed.websocket_url("bad-input"), ssl=config.tls_context(), server_hostname="localhost",
        max_size=2**16, compression=None,
    ) as ws:  # fmt: skip
        try:
            for action in actions:
                await ws.send(action)
                received.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        except ConnectionClosed:
            pass
        with pytest.raises(ConnectionClosed):
            while True:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    return received, ws.close_code


def test_websocket_bad_input_gets_an_error_or_the_right_close_code(stack: DockerCompose) -> None:
    async def sessions() -> dict[str, tuple[list[dict[str, Any]], int | None]]:
        return {
            "unknown then binary": await websocket_session(['{"type": "dance"}', b"\x00\x01"]),
            "oversize": await websocket_session(["x" * 5000]),
            "five invalid": await websocket_session(["nope"] * 5),
        }

    found = asyncio.run(sessions())
    messages, code = found["unknown then binary"]
    assert messages[0]["type"] == "error" and "subscribe" in messages[0]["reason"]
    assert code == 1003  # unsupported data
    assert found["oversize"][1] == 1009  # message too big
    messages, code = found["five invalid"]
    assert [m["type"] for m in messages] == ["error"] * 4
    assert code == 1008  # policy violation


def test_bad_clients_do_not_disturb_a_good_one(stack: DockerCompose) -> None:
    async def good_client_during_bad_ones() -> tuple[list[int], list[int], int]:
        async with feed.http_client() as http:
            rx = feed.Receiver("websocket", "good", await feed.latest(http))
            stop = asyncio.Event()
            follower = asyncio.create_task(feed.websocket(rx, stop, config.tls_context()))
            await asyncio.sleep(0.5)
            await websocket_session(["nope"] * 5)
            published = [await feed.publish(http, "GOOD-1", "paid") for _ in range(3)]
            for _ in range(100):
                if len(rx.ids) >= 3:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await follower
            assert rx.reconnects == 0
            return (
                [p["id"] for p in published] if rx.ids == [p["id"] for p in published] else rx.ids
            )

    ids = asyncio.run(good_client_during_bad_ones())
    assert len(ids) == 3
