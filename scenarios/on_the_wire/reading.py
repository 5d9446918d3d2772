"""The cost of reading a request: the same basket as JSON and as protobuf, 1 KiB to 1 MiB.

Each request goes to https://127.0.0.1:8443/wire/read (HTTP/1.1 on one kept-alive
TLS connection), through nginx to an api replica, which times its own stages
(services/api/routes/wire.py): read (the body arriving, wall time), decode (bytes
to objects), validate (the same rules for both formats), handle and encode,
each but read on the thread's CPU clock. Beside them: the bytes nginx read
(request_length, headers included), nginx's own time around the upstream's
(request_time less upstream_response_time: reading and decrypting the body,
writing the answer), the client's wall time, and the api containers' CPU as
their cgroups count it (every replica, and whatever else they served meanwhile).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sandbox.wire.v1 import basket_pb2

from comms_sandbox import cgroups, config, docker, proxy_log
from scenarios import charts, narration

PATH = "/wire/read"
JSON, PROTOBUF = "application/json", "application/x-protobuf"
FORMATS = {"json": JSON, "protobuf": PROTOBUF}
# The JSON body's size (the api and nginx take 1 MiB at most); protobuf carries the
# same items. Fewer requests for the larger ones: their medians settle sooner.
SIZES = {"1 KiB": (1024, 20), "64 KiB": (64 * 1024, 10), "1 MiB": (1024 * 1024, 6)}
STAGES = ("decode", "validate", "handle", "encode")
REFUSALS = {  # what each bad body must get
    "a truncated protobuf": 400,
    "JSON that does not parse": 400,
    "a body over 1 MiB": 413,
    "a Content-Type of text/plain": 415,
    "an item out of range": 422,
}


def basket(json_bytes: int, seed: int = 7) -> list[dict[str, Any]]:
    """Items whose JSON body ({"items": [...]}) is as close to json_bytes as fits under it."""
    picks = random.Random(seed)
    items: list[dict[str, Any]] = []
    size = len(b'{"items": []}')
    while True:
        item = {
            "sku": f"SKU-{picks.randrange(10**6):06d}",
            "quantity": picks.randint(1, 1000),
            "price_cents": picks.randint(1, 10**7),
            "note": "gift wrap" * picks.randint(0, 3),
        }
        grown = size + len(json.dumps(item)) + (2 if items else 0)
        if grown > json_bytes:
            return items
        items.append(item)
        size = grown


def encoded(items: list[dict[str, Any]]) -> dict[str, bytes]:
    message = basket_pb2.Basket(items=[basket_pb2.Item(**item) for item in items])
    return {"json": json.dumps({"items": items}).encode(), "protobuf": message.SerializeToString()}


def server_timing(header: str) -> dict[str, float]:
    """Server-Timing's durations in ms ("decode;dur=0.112, handle;dur=0.007")."""
    found = {}
    for entry in header.split(","):
        name, _, params = entry.strip().partition(";")
        if params.startswith("dur="):
            found[name] = float(params[4:])
    return found


def post(client: httpx.Client, kind: str, body: bytes, label: str) -> dict[str, Any]:
    headers = {"content-type": FORMATS[kind], "x-sandbox-client": label}
    started = time.perf_counter()
    response = client.post(PATH, content=body, headers=headers)
    wall_ms = (time.perf_counter() - started) * 1000
    answer = response.json() if response.status_code == 200 else {}
    return {"status": response.status_code, "client_ms": round(wall_ms, 3),
            "body_bytes": answer.get("body_bytes"),
            "stages_ms": server_timing(response.headers.get("server-timing", ""))}  # fmt: skip


def api_cpu_s(replicas: list[str]) -> float:
    """The replicas' CPU seconds so far, read side by side (each read is a `docker exec`)."""
    with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
        return sum(pool.map(cgroups.cpu_seconds, replicas))


def one_case(client: httpx.Client, kind: str, body: bytes, requests: int,
             label: str) -> dict[str, Any]:  # fmt: skip
    replicas = [c.name for c in docker.containers("api")]
    cpu_before = api_cpu_s(replicas)
    calls = [post(client, kind, body, label) for _ in range(requests)]
    cpu_ms = (api_cpu_s(replicas) - cpu_before) * 1000
    return {"label": label, "body_bytes": len(body), "requests": requests, "calls": calls,
            "api_cgroup_cpu_ms_per_request": round(cpu_ms / requests, 2)}  # fmt: skip


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summary(case: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A case's medians: the api's stages, the client's wall time, nginx's fields."""
    calls = case.pop("calls")
    stages = {f"{stage}_us": median([c["stages_ms"].get(stage, 0) * 1000 for c in calls])
              for stage in ("read", *STAGES)}  # fmt: skip
    upstream = [float(line["upstream_response_time"].split(",")[-1]) for line in lines
                if line["upstream_response_time"] not in ("", "-")]  # fmt: skip
    own = [float(line["request_time"]) - u for line, u in zip(lines, upstream, strict=False)]
    return {**case, **stages,
            "statuses": sorted({c["status"] for c in calls}),
            "read_whole": all(c["body_bytes"] == case["body_bytes"] for c in calls),
            "client_p50_ms": median([c["client_ms"] for c in calls]),
            "request_bytes_on_wire": int(median([int(n["request_length"]) for n in lines]) or 0),
            "nginx_lines": len(lines),
            "nginx_own_p50_ms": median([s * 1000 for s in own]),
            "upstream_p50_ms": median([u * 1000 for u in upstream])}  # fmt: skip


def reason(response: httpx.Response) -> str | None:
    """The api's JSON `detail`, or the <title> of nginx's own error page (its 413)."""
    kind = response.headers.get("content-type", "")
    if kind.startswith(JSON):
        detail = response.json().get("detail")
        return str(detail)[:160] if detail else None
    title = re.search(r"<title>(.*?)</title>", response.text)
    return title.group(1) if title and kind.startswith("text/html") else None


def refusals(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Bad bodies, each with the 4xx and the reason it must get."""
    good = encoded(basket(1024))
    bad = {
        "a truncated protobuf": (PROTOBUF, good["protobuf"][:-3]),
        "JSON that does not parse": (JSON, good["json"][:-1]),
        "a body over 1 MiB": (JSON, b" " * (1024 * 1024 + 1)),
        "a Content-Type of text/plain": ("text/plain", good["json"]),
        "an item out of range": (
            JSON,
            json.dumps({"items": [{"sku": "SKU-1", "quantity": 0, "price_cents": 1}]}).encode(),
        ),
    }
    seen = {}
    for name, (kind, body) in bad.items():
        response = client.post(PATH, content=body, headers={"content-type": kind})
        seen[name] = {"status": response.status_code, "expected": REFUSALS[name],
                      "detail": reason(response)}  # fmt: skip
        narration.seen(f"{name}: {response.status_code} ({seen[name]['detail']})")
    return seen


def run() -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    cases = {}
    with httpx.Client(base_url=config.proxy_url(), verify=config.tls_context(),
                      timeout=30) as client:  # fmt: skip
        for size, (json_bytes, requests) in SIZES.items():
            bodies = encoded(basket(json_bytes))
            for kind, body in bodies.items():
                narration.step(f"{requests} POST {PATH} with a {size} basket as {kind} "
                               f"({len(body)} bytes)")  # fmt: skip
                label = f"wire-read-{run_id}-{kind}-{json_bytes}"
                cases[f"{kind} {size}"] = one_case(client, kind, body, requests, label)
        refused = refusals(client)
    with narration.waiting("nginx's log lines written", expected_s=proxy_log.FLUSH_S):
        time.sleep(proxy_log.FLUSH_S)
    lines = proxy_log.access_log(since)
    rows = {name: summary(case, proxy_log.for_client(lines, case["label"]))
            for name, case in cases.items()}  # fmt: skip
    return {"cases": rows, "refusals": refused, "holds": holds(rows, refused)}


def holds(rows: dict[str, dict[str, Any]], refused: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Measured by the api's CPU clock and nginx's byte counts, never by what was sent."""

    def decode(kind: str, size: str) -> float:
        return rows[f"{kind} {size}"]["decode_us"] or 0.0

    return {
        "every body answered 200 and read whole by the api": all(
            row["statuses"] == [200] and row["read_whole"] for row in rows.values()
        ),
        "protobuf is fewer bytes on the wire than JSON at every size (nginx's count)": all(
            (rows[f"protobuf {size}"]["request_bytes_on_wire"] or 0)
            < (rows[f"json {size}"]["request_bytes_on_wire"] or 0)
            for size in SIZES
        ),
        "decoding the 1 MiB basket costs more CPU as JSON than as protobuf": (
            decode("json", "1 MiB") > decode("protobuf", "1 MiB")
        ),
        "decoding costs more CPU as the body grows (1 KiB against 1 MiB, both formats)": all(
            decode(kind, "1 MiB") > decode(kind, "1 KiB") for kind in FORMATS
        ),
        "every bad body got its 4xx with a reason": all(
            seen["status"] == seen["expected"] and seen["detail"] for seen in refused.values()
        ),
    }


def chart(reading: dict[str, Any], folder: Path) -> Path:
    """The api's CPU per stage, JSON beside protobuf, one panel per size."""
    panels = {
        size: {
            f"{kind}\n{stage}": int(reading["cases"][f"{kind} {size}"][f"{stage}_us"] or 0)
            for stage in ("decode", "validate")
            for kind in FORMATS
        }
        for size in SIZES
    }
    title = "The api's CPU per request, median (µs)"
    return charts.save_bar_charts(folder / "reading-cpu.png", title, panels, "µs")
