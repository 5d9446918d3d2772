"""The lesson's one-shot clients (services/wire/), each run in its own container."""

from __future__ import annotations

import json
from typing import Any

from comms_sandbox import docker
from comms_sandbox.compose import compose, profile_flags


def run_client(service: str, *args: str) -> dict[str, Any]:
    """`docker compose run` of `service` with ARGS; the JSON object it printed last.
    DockerError with its stderr when it fails."""
    done = compose(*profile_flags([service]), "run", "--rm", "-T", "--no-deps", service, *args,
                   capture=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise docker.DockerError(f"{service} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
