"""Run wrk inside the sandbox's network (the `loadgen` tool service) and read its JSON summary.

Benchmarks and the scenarios that need a load generator heavier than Python
(the execution-models lesson) share it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from comms_sandbox import images
from comms_sandbox.compose import compose, compose_file

MARKER = "WRK_JSON "  # printed by images/loadgen/report.lua
IMAGE = "comms-sandbox/loadgen:dev"  # compose.yaml's loadgen image


def network() -> str:
    """The stack's back network, where wrk(cpus=...) runs (read when needed, not on import)."""
    return f"{compose_file()['name']}_back"


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus non-2xx/3xx answers


def wrk(
    url: str, *, seconds: int, connections: int, threads: int = 2, cpus: str | None = None,
    json_body: str | None = None, headers: tuple[str, ...] = (),
) -> Load:  # fmt: skip
    """`connections` kept-alive connections hammering `url` for `seconds` (wrk's closed loop).

    `cpus` pins wrk to a cpuset ("0"); compose's `run` has no such flag, so
    then the image compose built is run with plain `docker run`. A
    `json_body` makes every request a POST of it (images/loadgen/report.lua).
    """
    args = (f"--threads={threads}", f"--connections={connections}", f"--duration={seconds}s",
            "--timeout=5s", *(f"--header={header}" for header in headers), url)  # fmt: skip
    post = ("-e", "WRK_METHOD=POST", "-e", f"WRK_BODY={json_body}",
            "-e", "WRK_CONTENT_TYPE=application/json") if json_body else ()  # fmt: skip
    if cpus is None:
        # --build: a changed report.lua reaches the image (cached otherwise).
        result = compose("run", "--rm", "--no-deps", "--build", *post, "loadgen", *args,
                         capture=True)  # fmt: skip
    else:
        result = subprocess.run(
            ["docker", "run", "--rm", f"--cpuset-cpus={cpus}", f"--network={network()}",
             "--read-only", "--cap-drop=ALL", *post, IMAGE, *args],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"wrk against {url} failed:\n{result.stdout}\n{result.stderr}")
    return parse(result.stdout)


def build_image() -> None:
    """Build the loadgen image now (cached: a second or two), so wrk(cpus=...) can run it.

    Its base first: `make up` makes only the images of the services it
    starts, and loadgen is a tool no lesson starts.
    """
    images.ensure_images(["loadgen"])
    result = compose("--profile", "tools", "build", "loadgen", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the loadgen image failed:\n{result.stderr}")


def parse(output: str) -> Load:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"no {MARKER.strip()} line in wrk's output:\n{output}")
    summary = json.loads(line.removeprefix(MARKER))
    return Load(
        requests_per_s=round(summary["requests"] / (summary["duration_us"] / 1e6), 1),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=summary["socket_errors"] + summary["non_2xx_3xx"],
    )
