"""Calls to `api-faults` (the api behind Toxiproxy), timed, with a request id each."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx

from comms_sandbox import docker, service_logs
from comms_sandbox.compose import compose
from comms_sandbox.ports import FAULTS_API, HOST
from scenarios import narration

TIMEOUT_S = 15.0  # the client's own: longer than any answer the api may take


def api_url() -> str:
    return f"http://{HOST}:{FAULTS_API.port}"


@contextmanager
def fault(what: str, applied: AbstractContextManager[None]) -> Iterator[None]:
    """A Toxiproxy fault (a toxic, a partition) for the block, narrated as it comes and goes."""
    narration.step(f"fault on: {what}")
    try:
        with applied:
            yield
    finally:
        narration.step(f"fault off: {what}")


def timed_post(path: str, body: dict[str, Any], label: str, *, told: bool = True) -> dict[str, Any]:
    """One POST: its status, seconds taken, request id and (JSON) answer.

    Narrated as it comes back (`told`), with the answer's detail when it failed.
    """
    call = _timed_post(path, body, label)
    if told:
        narration.seen(described(path, call))
    return call


def described(path: str, call: dict[str, Any]) -> str:
    """'POST /orders: 503 in 5.01 s (rabbitmq: ...)': a call in a line."""
    answer = call["answer"]
    detail = answer.get("detail") or answer.get("error") if isinstance(answer, dict) else None
    failed = not call["status"] or call["status"] >= 400
    text = str(detail)
    why = f" ({text[:80]}{'…' if len(text) > 80 else ''})" if failed and detail else ""
    return f"POST {path}: {call['status'] or 'no answer'} in {call['seconds']:.2f} s{why}"


def _timed_post(path: str, body: dict[str, Any], label: str) -> dict[str, Any]:
    request_id = f"{label}-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    try:
        response = httpx.post(f"{api_url()}{path}", json=body, timeout=TIMEOUT_S,
                              headers={"X-Request-ID": request_id})  # fmt: skip
        status, answer = response.status_code, _json(response)
    except httpx.HTTPError as exc:
        status, answer = 0, {"error": type(exc).__name__}
    return {
        "request_id": request_id,
        "status": status,
        "seconds": round(time.perf_counter() - started, 3),
        "answer": answer,
    }


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


def running_policy() -> str | None:
    """The pricing resilience policy api-faults runs with now (None: not running healthy)."""
    running = [c for c in docker.containers("api-faults") if c.health == "healthy"]
    if len(running) != 1:
        return None
    return docker.environment(running[0].name).get("API_PRICING_RESILIENCE")


def recreate_api_faults(policy: str) -> subprocess.CompletedProcess[str]:
    return compose(
        "--profile", "network-faults", "up", "--detach", "--no-deps", "--force-recreate",
        "--wait", "api-faults", capture=True, env={"FAULTS_PRICING_RESILIENCE": policy},
    )  # fmt: skip


def use_policy(policy: str) -> None:
    """Re-create api-faults with this pricing resilience policy (off, naive or on), unless it
    already runs with it: a re-creation waits for a healthy api, 10 to 30 s."""
    if running_policy() == policy:
        return
    with narration.waiting(f"api-faults re-created with retry policy {policy!r}", expected_s=20):
        result = recreate_api_faults(policy)
        if result.returncode != 0 and "No such container" in result.stderr:
            # Another `up` (the other test lane's) touched the container mid re-creation.
            narration.seen(f"re-creating api-faults met another `up`; once more: {result.stderr}")
            result = recreate_api_faults(policy)
    if result.returncode != 0:
        raise RuntimeError(f"re-creating api-faults ({policy}) failed:\n{result.stderr}")


def pricing_calls(request_ids: list[str], since: str = "3m") -> list[dict[str, Any]]:
    """The calls pricing handled for these request ids: its log line for each."""
    wanted = set(request_ids)
    return [
        line
        for line in service_logs.json_lines(["pricing"], since=since)
        if line.get("request_id") in wanted and line.get("message") == "call"
    ]


def calls_at_pricing(request_ids: list[str]) -> dict[str, int]:
    """How many calls pricing handled for each request id: the load it got."""
    counts = dict.fromkeys(request_ids, 0)
    for line in pricing_calls(request_ids):
        counts[line["request_id"]] += 1
    return counts


def api_durations_ms(request_ids: list[str], since: str = "3m") -> dict[str, float | None]:
    """The api's own time for each request, by request id (None: no log line found).

    Its "request" log line's duration_ms: from the request read to the answer
    sent, by the api's clock. The client's and nginx's waits for a CPU are
    not in it, so a busy machine stretches it far less than the client's time.
    """
    wanted = set(request_ids)
    found = {
        line["request_id"]: line.get("duration_ms")
        for line in service_logs.json_lines(["api-faults"], since=since)
        if line.get("request_id") in wanted and line.get("message") == "request"
    }
    return {request_id: found.get(request_id) for request_id in request_ids}
