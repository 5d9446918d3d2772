"""Sidecars: a reverse proxy and an adapter add behaviour to an app that knows nothing of them.

The inventory app listens on 127.0.0.1:9000 inside its own network
namespace. Its reverse-proxy sidecar (the service `inventory-ambassador`,
named before the lesson used the pattern's names: an ambassador proxies an
app's outbound calls), an nginx started with `network_mode:
"service:inventory"` (proxy/sidecar.py), shares that namespace and owns the
service's port 8000 for the calls coming in; its adapter
(services/adapter/log_metrics.py) reads the log file the app writes to a
shared volume and serves Prometheus metrics. The scenario sends the same
requests to the app behind its sidecars and to the same app started alone
(`--profile no-sidecar`), and compares.

What to look at: without a key the proxy sidecar answers 401 and the app's
own request count does not move; a request id appears; a call the app fails
with 503 is retried and succeeds; a slow call is cut at 2 s (504); a burst
is rate-limited (429); other containers cannot reach the app's port, only
the sidecar's; the adapter's counts follow the app's activity exactly;
and the app's code names none of these features.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console

from comms_sandbox import docker, ports
from comms_sandbox.health import SandboxNotUpError
from scenarios.report import records_table
from scenarios.result import ScenarioResult, all_hold
from scenarios.sidecar.probes import (
    FLAKY_CALLS,
    ambassador_log,
    ambassador_log_lines,
    behaviour,
    from_another_container,
    requests_seen_by_app,
    retried_calls,
    sidecar_words_in_app_code,
    wait_for_adapter,
)

NAME = "sidecar"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("inventory-ambassador",)
ORDER = 70  # place in the syllabus
# What `make up LESSON=sidecar` starts: the app, its two sidecars, and an api replica as a
# neighbour.
SERVICES = ("inventory-ambassador", "inventory-metrics", "api")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/inventory/main.py",
    "proxy/sidecar.conf",
    "services/adapter/log_metrics.py",
)
BARE = ("no-sidecar", "inventory-bare")


def sidecar_url() -> str:
    return f"http://{ports.HOST}:{ports.INVENTORY.port}"


def bare_url() -> str:
    return f"http://{ports.HOST}:{ports.INVENTORY_BARE.port}"


def require_sidecar() -> None:
    try:
        httpx.get(f"{sidecar_url()}/nginx-health", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        raise SandboxNotUpError(
            f"the inventory ambassador does not answer at {sidecar_url()}: `make up` first"
        ) from exc


def run() -> ScenarioResult:
    require_sidecar()
    before = requests_seen_by_app()
    log_before = len(ambassador_log_lines())
    with_sidecar = behaviour(sidecar_url())
    reached_app = 1 + with_sidecar["burst_statuses"].get("200", 0)  # the 401 must not count
    seen = wait_for_adapter(before + reached_app)
    new_lines = ambassador_log_lines()[log_before:]
    with_sidecar["ambassador_log"] = ambassador_log(new_lines, with_sidecar["request_id"])
    with_sidecar["retried_by_ambassador"] = retried_calls(new_lines)
    docker.start_profile_service(*BARE)
    try:
        without = behaviour(bare_url())
    finally:
        docker.remove_service(*BARE)
    metrics = {
        "with_sidecar": with_sidecar,
        "without_sidecar": without,
        "adapter": {"app_requests_before": before, "expected_after": before + reached_app,
                    "seen_after": seen},
        "from_another_container": from_another_container(),
        "sidecar_words_in_app_code": sidecar_words_in_app_code(),
    }  # fmt: skip
    metrics["checks"] = checks(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


def checks(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, judged from its metrics."""
    on, off, adapter = m["with_sidecar"], m["without_sidecar"], m["adapter"]
    reach = m["from_another_container"]
    return {
        "no key: 401 with the sidecar, 200 without":
            (on["no_key_status"], on["with_key_status"], off["no_key_status"]) == (401, 200, 200),
        "the sidecar adds a request id, the bare app none":
            bool(on["request_id"]) and off["request_id"] is None,
        "retries hide the flaky app's 503s": on["flaky_statuses"] == {"200": FLAKY_CALLS}
            and "503" in off["flaky_statuses"],
        # 9 when the app's counter happened to start even: its first answer was a 200.
        "the ambassador's log shows the retries": on["retried_by_ambassador"] >= FLAKY_CALLS - 1,
        "the timeout answers 504, the bare app waits": (on["slow_status"], off["slow_status"])
            == (504, 200),
        "the rate limit answers 429, the bare app never":
            "429" in on["burst_statuses"] and "429" not in off["burst_statuses"],
        "the adapter counted every request the app got":
            adapter["seen_after"] == adapter["expected_after"],
        "other containers reach the sidecar only": reach["app port 9000"] != "connected"
            and reach["ambassador port 8000"] == "connected",
        "no sidecar word in the app's code": not m["sidecar_words_in_app_code"],
    }  # fmt: skip


ROWS = (
    ("no_key_status", "GET /items without X-API-Key"),
    ("with_key_status", "GET /items with the key"),
    ("request_id", "X-Request-ID on the answer"),
    ("flaky_statuses", "GET /flaky x10 (the app fails every other call)"),
    ("slow_status", "GET /slow?ms=3000: status"),
    ("slow_s", "GET /slow?ms=3000: seconds"),
    ("burst_statuses", "40 GETs at once"),
)


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    rows = [
        {"": label, "with sidecars": str(m["with_sidecar"][key]),
         "sidecars off": str(m["without_sidecar"][key])}
        for key, label in ROWS
    ]  # fmt: skip
    console.print(records_table("the same requests, with and without the ambassador", rows,
                                ("", "with sidecars", "sidecars off")))  # fmt: skip
    on = m["with_sidecar"]
    console.print(f"ambassador log line for that request id: {on['ambassador_log']}")
    console.print(f"calls the ambassador retried (503 then 200): {on['retried_by_ambassador']}")
    a = m["adapter"]
    console.print(
        f"adapter: the app logged {a['app_requests_before']} GET /items before, "
        f"{a['seen_after']} after (expected {a['expected_after']}: the 401 never reached it)"
    )
    console.print(f"from an api replica: {m['from_another_container']}")
    console.print(f"sidecar features named in the app's code: {m['sidecar_words_in_app_code']}")
