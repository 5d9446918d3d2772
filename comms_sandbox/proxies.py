"""The proxies lesson's host-side client: its containers, their counters and their logs.

Everything the lesson judges is read from the parts themselves: Squid's access
log, the edge's access and error logs (nginx), the kernel's TCP counters in
the edge's network namespace, and what each catalog replica counted.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from comms_sandbox import docker, kernel_counters
from comms_sandbox.compose import compose, profile_flags
from comms_sandbox.ports import EDGE, HOST

PROFILE = "proxies"
SQUID_LOG = "/var/log/squid/access.log"


def now() -> str:
    """A timestamp `docker logs --since` takes: the logs from here on."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wait_until(deadline: float) -> None:
    """Until time.monotonic() reaches `deadline`, in short sleeps: one long sleep() may
    overshoot by milliseconds, and the keep-alive part aims within 20 of them."""
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.005, left))


def container(service: str) -> str:
    """The first running container of a service (edge, squid, outside)."""
    running = [c.name for c in docker.containers(service) if c.state == "running"]
    if not running:
        raise docker.DockerError(f"{service} is not running: make up LESSON=proxies")
    return running[0]


def replicas() -> list[str]:
    """The running catalog replicas, by container name."""
    return [c.name for c in docker.containers("catalog") if c.state == "running"]


def replica_counts() -> dict[str, dict[str, Any]]:
    """What each running catalog replica has counted: its own GET /counts, asked by
    name through the edge (/replicas/N/counts: proxy/proxies.py)."""
    names = replicas()
    with httpx.Client(base_url=f"http://{HOST}:{EDGE.port}", timeout=5) as client:
        answers = [client.get(f"/replicas/{name.rsplit('-', 1)[1]}/counts") for name in names]
    for answer in answers:
        answer.raise_for_status()
    return {name: answer.json() for name, answer in zip(names, answers, strict=True)}


def served(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
           key: str) -> int:  # fmt: skip
    """How many more `key` (e.g. "prices 200") the replicas counted, all together."""

    def count(counts: dict[str, dict[str, Any]], name: str) -> int:
        return counts.get(name, {}).get("counts", {}).get(key, 0)

    return sum(count(after, name) - count(before, name) for name in after)


def tcp_opens(name: str) -> dict[str, int]:
    """Connections accepted (PassiveOpens) and opened (ActiveOpens) in a container's namespace."""
    counters = kernel_counters.in_container(name)
    return {"accepted": counters["Tcp.PassiveOpens"], "opened": counters["Tcp.ActiveOpens"]}


def logs(name: str, since: str) -> tuple[list[dict[str, Any]], list[str]]:
    """A container's JSON lines on stdout (its access logs) and its other lines on stderr."""
    stdout, stderr = docker.log_streams(name, since)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return lines, stderr.splitlines()


def squid_log() -> list[str]:
    """Squid's access log so far, one request per line (scenarios/proxies/squid.conf)."""
    return docker.read_file(container("squid"), SQUID_LOG).splitlines()


def fetch_inside(urls: list[str], proxy: str | None, timeout_s: float = 5,
                 direct: tuple[str, ...] = ()) -> list[dict[str, Any]]:  # fmt: skip
    """Run the inside client once (services/outside/fetch.py): one answer per URL, then
    one per `direct` URL (fetched with no proxy)."""
    args = [*(["--proxy", proxy] if proxy else []), "--timeout", str(timeout_s),
            *(f"--direct={url}" for url in direct)]  # fmt: skip
    result = compose(*profile_flags(["forward-client"]), "run", "--rm", "-T", "--no-deps",
                     "forward-client", *args, *urls, capture=True, timeout=60)  # fmt: skip
    if result.returncode != 0:
        raise docker.DockerError(f"forward-client failed:\n{result.stderr[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def address_on(name: str, network_suffix: str) -> str:
    """A container's IPv4 address on the network whose name ends with `network_suffix`."""
    networks = json.loads(docker.inspect(name, "{{json .NetworkSettings.Networks}}"))
    return next(net["IPAddress"] for key, net in networks.items() if key.endswith(network_suffix))
