"""The scenarios' hands on the stack: which container is which replica; kill, start, scale.

A replica's hostname (what X-Served-By says) is its container's short id;
its name is what Compose calls it (comms-sandbox-api-2). Everything goes
through the docker CLI with the same image settings `make up` used.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from comms_sandbox.compose import compose, compose_ps, profile_flags, wait_until_healthy


class DockerError(RuntimeError):
    """A docker command failed; the message carries its output."""


@dataclass(frozen=True)
class Container:
    hostname: str  # the short container id, which Docker makes the hostname
    name: str
    state: str  # running, exited...
    health: str  # healthy, starting, unhealthy, or "" without a healthcheck


def containers(service: str) -> list[Container]:
    """The service's containers, running or not, in name order."""
    found = [
        Container(c["ID"][:12], c["Name"], c.get("State", ""), c.get("Health", ""))
        for c in compose_ps("--all", service)
    ]
    return sorted(found, key=lambda c: (len(c.name), c.name))


def names_by_hostname(service: str) -> dict[str, str]:
    return {c.hostname: c.name for c in containers(service)}


def kill(name: str) -> None:
    """SIGKILL, as a crash would: no graceful shutdown, connections just die."""
    _docker("kill", name)


def names(name_filter: str, *, stopped_too: bool = False) -> list[str]:
    """Names of the containers whose name contains `name_filter` (running only, by default)."""
    listed = _docker("ps", *(["-a"] if stopped_too else []), "--filter", f"name={name_filter}",
                     "--format", "{{.Names}}")  # fmt: skip
    return listed.split()


def send_signal(name: str, signal_name: str) -> None:
    """`docker kill --signal`: SIGINT asks dumpcap to finish its file, say."""
    _docker("kill", "--signal", signal_name, name)


def inspect(name: str, template: str) -> str:
    """One field of `docker inspect`, e.g. "{{.State.Pid}}" or "{{.RestartCount}}"."""
    return _docker("inspect", "--format", template, name).strip()


def environment(name: str) -> dict[str, str]:
    """A container's environment variables, as `docker inspect` has them."""
    lines = inspect(name, "{{range .Config.Env}}{{println .}}{{end}}").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


PAUSE_TRIES = 5
# runc's answer when the cgroup did not reach FROZEN in time, which a process being
# created in it (a `docker exec`, a fork) can cause: runc's own freezer retries are
# "still a game of chances" (opencontainers/runc#2791); a new try usually succeeds.
NOT_FROZEN = "unable to freeze"


def pause(name: str) -> None:
    """Freeze every process of the container (cgroup freezer): a hung replica.
    The kernel still completes TCP handshakes for it; nothing answers."""
    for attempt in range(1, PAUSE_TRIES + 1):
        try:
            _docker("pause", name)
            return
        except DockerError as error:
            if NOT_FROZEN not in str(error) or attempt == PAUSE_TRIES:
                raise
            time.sleep(0.5)


def unpause(name: str) -> None:
    _docker("unpause", name)


def start(name: str) -> None:
    _docker("start", name)


def stop(name: str, grace_s: int = 30) -> None:
    """SIGTERM, then SIGKILL after grace_s: a clean shutdown, as an operator's would be."""
    _docker("stop", "--time", str(grace_s), name)


def disconnect(network: str, name: str) -> None:
    """Take the container off a network: it keeps running, cut off from everyone there."""
    _docker("network", "disconnect", network, name)


def connect(network: str, name: str, aliases: tuple[str, ...]) -> None:
    """Put it back, under the names Compose gave it there (its service name)."""
    _docker("network", "connect", *(f"--alias={alias}" for alias in aliases), network, name)


def wait_healthy(name: str, timeout_s: float = 60) -> float:
    """Seconds until the container's healthcheck passes."""
    started = time.monotonic()
    try:
        wait_until_healthy(name, timeout_s)
    except RuntimeError as exc:
        raise DockerError(str(exc)) from exc
    return time.monotonic() - started


def scale(service: str, replicas: int) -> None:
    """`docker compose up --scale`: adds or removes replicas, leaves the others alone."""
    result = compose(
        *profile_flags([service]), "up", "--detach", "--no-build", "--no-recreate", "--wait",
        "--scale", f"{service}={replicas}", service,
        capture=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise DockerError(f"scaling {service} to {replicas} failed:\n{result.stderr}")


def start_profile_service(profile: str, service: str) -> None:
    """Start a service that only runs under a Compose profile, and wait until it is healthy."""
    result = compose(
        "--profile", profile, "up", "--detach", "--no-build", "--no-recreate", "--wait", service,
        capture=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise DockerError(f"starting {service} (profile {profile}) failed:\n{result.stderr}")


def remove_service(profile: str, service: str) -> None:
    compose("--profile", profile, "rm", "--stop", "--force", service, capture=True)


def logs(name: str, since: str | None = None) -> str:
    """A container's standard output so far (since: a timestamp Docker understands)."""
    return _docker("logs", *(("--since", since) if since else ()), name)


def log_streams(name: str, since: str) -> tuple[str, str]:
    """A container's standard output and standard error since `since`, apart (nginx
    writes its access log to one and its error log to the other)."""
    done = subprocess.run(["docker", "logs", "--since", since, name], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout, done.stderr


def run_in(container: str, *command: str) -> str:
    """A command run inside a running container (its namespaces); its standard output."""
    return _docker("exec", container, *command)


def read_file(container: str, path: str) -> str:
    """A file inside a running container, e.g. its network namespace's /proc/net/snmp."""
    return run_in(container, "cat", path)


def exec_python(container: str, code: str) -> str:
    """Run Python code in a running container (one of ours has Python); its output."""
    return _docker("exec", container, "python", "-c", code)


def memory_mib(names: list[str]) -> dict[str, float]:
    """Each container's memory use now, as the kernel's cgroup counts it (docker stats)."""
    stats = _docker("stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names)
    usage = {}
    for line in stats.splitlines():
        name, mem = line.split("\t")
        usage[name] = to_mib(mem.split("/")[0].strip())
    return usage


def to_mib(text: str) -> float:
    """docker stats' "12.5MiB" (or KiB, GiB, B) in MiB."""
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if text.endswith(unit):
            return round(float(text.removesuffix(unit)) * factor, 1)
    raise ValueError(f"unknown memory unit in {text!r}")


def image_created(image: str) -> float | None:
    """When a local image was built (Unix seconds); None when there is no such image."""
    try:
        created = _docker("image", "inspect", "--format", "{{.Created}}", image)
    except DockerError:
        return None
    # RFC 3339 with nanoseconds ("2026-12-07T13:47:01.123456789Z"): seconds are enough.
    stamp = created.strip().split(".")[0].rstrip("Z")
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def _docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DockerError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout
