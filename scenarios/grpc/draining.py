"""A channel's connection drained under load: nginx reloaded halfway through, no call lost.

A gRPC channel is one HTTP/2 connection. A server ends one gracefully with
GOAWAY (RFC 9113, section 6.8): it names the last stream it will process,
finishes those, and never processes the streams the client opened after it.
nginx sends it when a connection reaches keepalive_requests or keepalive_time
(proxy/grpc.py) and when it is reloaded or stopped. A client must then send the
refused calls again, on a new connection: gRPC does it once by itself
(transparent retry), and the channel's retry policy (comms_sandbox/grpc.py) does
it again for calls that are safe to repeat.

Here unary Quotes go over one channel, CONCURRENCY at a time. After
RELOAD_AFTER of them nginx is reloaded (`nginx -s reload`: new workers, the
old ones drain); calls keep going while it does, until the proxy's worker
processes are new ones, and then AFTER_RELOAD more. `nginx -s reload` only
signals the master and returns, so the run waits for the new workers rather
than for a number of calls: a fast machine would otherwise finish every call
on the old connection before the old worker got the signal. nginx's access log
says how many connections carried the calls and how many each: the first one
more than 1000 (nginx's default keepalive_requests, which drained it before),
the second the rest.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import grpc

from comms_sandbox import proxy_log
from comms_sandbox.compose import compose
from scenarios.grpc import client

RELOAD_AFTER = 1500
AFTER_RELOAD = 1000
RELOAD_WITHIN_S = 20.0
CONCURRENCY = 20
OLD_DEFAULT_KEEPALIVE_REQUESTS = 1000  # nginx's, which drained a channel every 1000 calls


# Each process's pid and command line, as the kernel has them; nginx names its
# workers "nginx: worker process" and, once told to stop, "... is shutting down".
_PROCESSES = 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(tr "\\0" " " < "$p/cmdline")"; done'


def serving_workers() -> set[str]:
    """The pids of the proxy's nginx workers that take new connections."""
    result = compose("exec", "-T", "proxy", "sh", "-c", _PROCESSES, capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"listing the proxy's processes failed: {result.stderr.strip()}")
    lines = (line.split(" ", 1) for line in result.stdout.splitlines())
    return {
        pid for pid, *command in lines if command and command[0].strip() == "nginx: worker process"
    }


def reload_proxy(within_s: float = RELOAD_WITHIN_S) -> None:
    """`nginx -s reload` in the proxy container, and wait until none of the workers that
    served before it takes new connections: new workers started, the old ones drain."""
    before = serving_workers()
    result = compose("exec", "-T", "proxy", "nginx", "-s", "reload", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"nginx -s reload failed: {result.stderr.strip()}")
    deadline = time.monotonic() + within_s
    while serving_workers() & before:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"nginx's workers {sorted(before)} still serve {within_s} s after a reload"
            )
        time.sleep(0.2)


def calls_across_a_reload(
    reload_after: int = RELOAD_AFTER,
    after_reload: int = AFTER_RELOAD,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    """Quotes on one channel: `reload_after`, then nginx reloaded while calls go on, then
    `after_reload` more once its workers are new."""
    label = f"drain-{uuid.uuid4().hex[:6]}"
    since = datetime.now(UTC).isoformat()
    outcomes = _quotes_with_a_reload(reload_after, after_reload, concurrency, label)
    time.sleep(proxy_log.FLUSH_S)
    lines = proxy_log.for_client(proxy_log.access_log(since), label)
    per_connection = Counter((line["connection"], line["remote_port"]) for line in lines)
    result = {
        "calls": len(outcomes),
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


def _schedule(
    reload_after: int, after_reload: int, reloading: threading.Event, reloaded: threading.Event
) -> Iterator[int]:
    """Call numbers: `reload_after`, then on while nginx reloads, then `after_reload` more."""
    number = 0
    for number in range(reload_after):
        yield number
    reloading.set()
    while not reloaded.is_set():  # calls stay in flight across the reload
        number += 1
        yield number
    for _ in range(after_reload):
        number += 1
        yield number


def _quotes_with_a_reload(
    reload_after: int, after_reload: int, concurrency: int, label: str
) -> list[str]:
    request = client.pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1)
    metadata = [("x-sandbox-client", label)]
    reloading, reloaded = threading.Event(), threading.Event()
    schedule = _schedule(reload_after, after_reload, reloading, reloaded)
    lock = threading.Lock()
    outcomes: list[str] = []
    with client.l7_channel() as channel:
        quote = client.stub(channel).Quote

        def one() -> str:
            try:
                quote(request, timeout=10, metadata=metadata)
            except grpc.RpcError as error:
                return error.code().name
            return "OK"

        def caller() -> None:
            while True:
                with lock:
                    if next(schedule, None) is None:
                        return
                outcome = one()
                with lock:
                    outcomes.append(outcome)

        with ThreadPoolExecutor(concurrency) as pool:
            callers = [pool.submit(caller) for _ in range(concurrency)]
            reloading.wait()
            try:
                reload_proxy()
            finally:
                reloaded.set()  # lets the callers finish either way
            for done in callers:
                done.result()
    return outcomes
