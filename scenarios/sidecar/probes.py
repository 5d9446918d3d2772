"""The same requests, to the app behind its ambassador and to the app alone: what came back."""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from comms_sandbox import config, docker, ports
from comms_sandbox.credentials import setting

KEY = {"X-API-Key": setting("INVENTORY_API_KEY")}
ITEM = "/items/BOOK-42"
ITEM_ROUTE = "/items/{sku}"  # how the adapter labels it: by route, never by raw path
FLAKY_CALLS = 10
BURST = 40
SLOW_MS = 3000
PACE_S = 0.1  # 10 requests/s, under the ambassador's limit
APP_CODE = config.REPO / "services" / "inventory"
# What the ambassador adds; the app's code must not mention any of it.
SIDECAR_WORDS = re.compile(
    r"api[-_ ]?key|request[-_ ]?id|rate[-_ ]?limit|retr(y|ies)|prometheus|sidecar|429",
    re.IGNORECASE,
)


def requests_seen_by_app(route: str = ITEM_ROUTE) -> int:
    """The adapter's count of requests the app itself logged for `route` (a template)."""
    text = httpx.get(f"http://{ports.HOST}:{ports.INVENTORY_METRICS.port}/metrics", timeout=5).text
    pattern = (
        rf'^app_requests_total{{method="GET",route="{re.escape(route)}",status="(\d+)"}} ([\d.]+)$'
    )
    return int(sum(float(m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)))


def wait_for_adapter(expected: int, timeout_s: float = 5) -> int:
    """The adapter polls the log file: give it a moment to catch up."""
    deadline = time.monotonic() + timeout_s
    seen = requests_seen_by_app()
    while seen < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = requests_seen_by_app()
    return seen


def behaviour(base_url: str) -> dict[str, Any]:
    """Every probe against one target (the ambassador's port or the bare app's).

    All but the last stay under the rate limit (PACE_S apart), so that only
    the burst at the end meets it.
    """
    with httpx.Client(base_url=base_url, timeout=10) as client:

        def paced(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
            time.sleep(PACE_S)
            return client.get(path, headers=headers)

        no_key = paced(ITEM)
        with_key = paced(ITEM, KEY)
        flaky = [paced("/flaky", KEY).status_code for _ in range(FLAKY_CALLS)]
        started = time.perf_counter()
        slow = paced(f"/slow?ms={SLOW_MS}", KEY)
        slow_s = time.perf_counter() - started - PACE_S
        time.sleep(1)  # a full bucket for the burst
        burst = [client.get(ITEM, headers=KEY).status_code for _ in range(BURST)]
    return {
        "no_key_status": no_key.status_code,
        "with_key_status": with_key.status_code,
        "request_id": with_key.headers.get("x-request-id"),
        "flaky_statuses": _counts(flaky),
        "slow_status": slow.status_code,
        "slow_s": round(slow_s, 2),
        "burst_statuses": _counts(burst),
    }


def _counts(statuses: list[int]) -> dict[str, int]:
    return {str(s): statuses.count(s) for s in sorted(set(statuses))}


def ambassador_log(lines: list[str], request_id: str | None) -> dict[str, Any] | None:
    """The ambassador's JSON access-log line for `request_id`, from `docker logs`."""
    for line in reversed(lines):
        if request_id and request_id in line and line.startswith("{"):
            return json.loads(line)
    return None


def ambassador_log_lines() -> list[str]:
    return docker.logs(docker.containers("inventory-ambassador")[0].name).splitlines()


def retried_calls(lines: list[str]) -> int:
    """Access-log lines whose upstream_status lists two answers: the ambassador retried."""
    return sum(1 for line in lines if '"upstream_status":"503, 200"' in line)


CONNECT = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('inventory', {port}), 2).close(); print('connected')\n"
    "except OSError as e:\n"
    "    print(type(e).__name__)\n"
)


def from_another_container() -> dict[str, str]:
    """Connect from an api replica: the app's own port, then the ambassador's."""
    neighbour = docker.containers("api")[0].name
    return {
        "app port 9000": docker.exec_python(neighbour, CONNECT.format(port=9000)).strip(),
        "ambassador port 8000": docker.exec_python(neighbour, CONNECT.format(port=8000)).strip(),
    }


def sidecar_words_in_app_code() -> list[str]:
    """Names and strings in the app's code (not docstrings or comments) naming sidecar features."""
    found = []
    for path in sorted(APP_CODE.glob("*.py")):
        for word in code_words(ast.parse(path.read_text())):
            if SIDECAR_WORDS.search(word):
                found.append(f"{Path(path).name}: {word}")
    return found


def code_words(tree: ast.AST) -> list[str]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                words.append(node.value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            words.append(node.name)
    return words
