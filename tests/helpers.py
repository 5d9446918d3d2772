"""Utilities the tests share: reading rendered nginx configuration; a scenario's checks;
the stack's state."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from comms_sandbox.compose import compose, compose_file, profile_flags
from scenarios.result import ScenarioResult


def block(text: str, opening: str, start: int = 0) -> str:
    """The first block (from `start`) whose opening line is `opening {`, to its closing brace."""
    # Only a whole opening: `stream {` but not `location = /feed/stream {`.
    found = re.compile(rf"(?<!\S){re.escape(opening)} \{{\n").search(text, start)
    if found is None:
        raise ValueError(f"no block opening with {opening!r}")
    begin = found.start()
    depth, end = 0, begin
    for end in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0 and text[end] == "}":
            break
    return text[begin : end + 1]


def server_block(text: str, listen: str) -> str:
    """The server block with `listen LISTEN;`."""
    at = text.index(f"listen {listen};")
    return block(text, "server", start=text.rindex("server {", 0, at))


def failed(part: dict[str, Any]) -> list[str]:
    """The checks of a scenario part ({"holds": {check: bool}}) that did not hold."""
    return [check for check, holds in part["holds"].items() if not holds]


def failing_checks(result: ScenarioResult) -> list[str]:
    """The named checks of a scenario's run (metrics["checks"]) that did not hold."""
    return [check for check, holds in result.metrics.get("checks", {}).items() if not holds]


def assert_holds(result: ScenarioResult) -> None:
    """The scenario's property held; if not, the failure names each check that did not."""
    __tracebackhide__ = True  # pytest reports the calling test's line
    checks = result.metrics.get("checks")
    assert checks, f"{result.scenario}: no named checks in metrics['checks'] to judge"
    failing = failing_checks(result)
    assert not failing, f"{result.scenario}: did not hold: {failing}"
    assert result.ok, f"{result.scenario}: not ok although every named check held: {checks}"


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def project_containers() -> list[str]:
    return compose("ps", "--all", "--quiet", capture=True).stdout.split()


def project_name() -> str:
    """COMPOSE_PROJECT_NAME when set (it wins, as for Compose), else compose.yaml's name."""
    return os.environ.get("COMPOSE_PROJECT_NAME") or compose_file()["name"]


def project_volumes() -> list[str]:
    """The named volumes of this Compose project that exist now."""
    result = subprocess.run(
        ["docker", "volume", "ls", "--quiet", "--filter",
         f"label=com.docker.compose.project={project_name()}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.split()


def stack_is_running() -> bool:
    result = compose("ps", "--quiet", "--status=running", capture=True)
    return bool(result.stdout.strip())


@dataclass(frozen=True)
class StackState:
    """What the tests found before they started the stack, so they leave it so."""

    running: bool
    stopped: bool  # containers that exist but do not run (`docker compose stop`)
    volumes: frozenset[str]

    @classmethod
    def now(cls) -> StackState:
        return cls(stack_is_running(), bool(project_containers()), frozenset(project_volumes()))

    def restore(self) -> None:
        """Remove only what the tests created: a user's stack and its data stay."""
        if self.running:
            return
        # Profile services (the observability lesson's) count as the stack's.
        profiles = profile_flags()
        if self.stopped:
            compose(*profiles, "stop", capture=True)
            return
        compose(*profiles, "down", "--remove-orphans", capture=True)  # keeps volumes
        for volume in sorted(set(project_volumes()) - self.volumes):
            subprocess.run(["docker", "volume", "rm", volume], capture_output=True, check=False)
