"""A channel's connection drained under load: nginx reloaded halfway through, no call lost.

A gRPC channel is one HTTP/2 connection. A server ends one gracefully with
GOAWAY (RFC 9113, section 6.8): it names the last stream it will process,
finishes those, and never processes the streams the client opened after it.
nginx sends it when a connection reaches keepalive_requests or keepalive_time
(proxy/grpc.py) and when it is reloaded or stopped. A client must then send the
refused calls again, on a new connection: gRPC does it once by itself
(transparent retry), and the channel's retry policy (comms_sandbox/grpc.py) does
it again for calls that are safe to repeat.

Here CALLS unary Quotes go over one channel, CONCURRENCY at a time, and nginx
is reloaded (`nginx -s reload`: new workers, the old ones drain) after
RELOAD_AFTER of them. nginx's access log says how many connections carried
them and how many calls each: the first one carried more than 1000 calls
(nginx's default keepalive_requests, which drained it before), the second the
rest.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import grpc

from comms_sandbox import proxy_log
from comms_sandbox.compose import compose
from scenarios.grpc import client

CALLS = 2500
RELOAD_AFTER = 1500
CONCURRENCY = 20
OLD_DEFAULT_KEEPALIVE_REQUESTS = 1000  # nginx's, which drained a channel every 1000 calls


def reload_proxy() -> None:
    """`nginx -s reload` in the proxy container: new workers start, the old ones drain."""
    result = compose("exec", "-T", "proxy", "nginx", "-s", "reload", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"nginx -s reload failed: {result.stderr.strip()}")


def calls_across_a_reload(
    calls: int = CALLS, reload_after: int = RELOAD_AFTER, concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    """`calls` Quotes on one channel, nginx reloaded after `reload_after` of them."""
    label = f"drain-{uuid.uuid4().hex[:6]}"
    since = datetime.now(UTC).isoformat()
    outcomes = _quotes_with_a_reload(calls, reload_after, concurrency, label)
    time.sleep(proxy_log.FLUSH_S)
    lines = proxy_log.for_client(proxy_log.access_log(since), label)
    per_connection = Counter((line["connection"], line["remote_port"]) for line in lines)
    result = {
        "calls": calls,
        "reloaded_after": reload_after,
        "outcomes": dict(Counter(outcomes)),
        "logged_by_nginx": len(lines),
        "calls_per_connection": sorted(per_connection.values(), reverse=True),
    }
    return result | {"holds": draining_holds(result)}


def draining_holds(result: dict[str, Any]) -> dict[str, bool]:
    """The checks, named: no call failed, a drained connection was replaced, and nginx
    let one connection carry more calls than its old default allowed."""
    per_connection = result["calls_per_connection"]
    return {
        "every call answered OK": result["outcomes"] == {"OK": result["calls"]},
        "the reload moved the channel to a new connection": len(per_connection) >= 2,
        "one connection carried more than 1000 calls": bool(per_connection)
        and per_connection[0] > OLD_DEFAULT_KEEPALIVE_REQUESTS,
    }


def _quotes_with_a_reload(calls: int, reload_after: int, concurrency: int, label: str) -> list[str]:
    request = client.pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1)
    metadata = [("x-sandbox-client", label)]
    started = threading.Semaphore(0)
    with client.l7_channel() as channel:
        quote = client.stub(channel).Quote

        def one(_: int) -> str:
            started.release()
            try:
                quote(request, timeout=10, metadata=metadata)
            except grpc.RpcError as error:
                return error.code().name
            return "OK"

        with ThreadPoolExecutor(concurrency) as pool:
            outcomes = pool.map(one, range(calls))
            for _ in range(reload_after):  # the reload comes while calls are in flight
                started.acquire()
            reload_proxy()
            return list(outcomes)
