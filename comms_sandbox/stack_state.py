"""The stack's state as a user left it, so that `make test` and `make bench` leave it so.

Running, stopped (containers that exist but do not run) or absent, and which of
the project's volumes exist: afterwards, restore() removes only what was created
since, never a user's data.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from comms_sandbox.compose import compose, compose_file, profile_flags


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
