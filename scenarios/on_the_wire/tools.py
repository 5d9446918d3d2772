"""The lesson's one-shot clients (services/wire/), each run in its own container."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from comms_sandbox import REPO, docker
from comms_sandbox.compose import build_images, compose, compose_file, profile_flags


@cache
def build_once(service: str, *sources: str) -> None:
    """Build a client's image of its own when it is missing or older than any of its
    `sources` (paths in the repository: files, or folders for every file in them), so that
    a change to its code runs, not the image `compose run` built the first time. (A build
    that finds every layer cached still sends the whole services/ folder, wheels included:
    about 10 s.) The shared service image is built by the stack's start."""
    image = compose_file()["services"][service]["image"]
    created = docker.image_created(image)
    if created is None or created < newest_change(sources):
        build_images([service])


def newest_change(sources: tuple[str, ...]) -> float:
    """The latest modification time (Unix seconds) among `sources` and the files in them."""
    paths = [REPO / source for source in sources]
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return max((f.stat().st_mtime for f in files), default=0.0)


def run_client(service: str, *args: str) -> dict[str, Any]:
    """`docker compose run` of `service` with ARGS; the JSON object it printed last.
    DockerError with its stderr when it fails."""
    done = compose(*profile_flags([service]), "run", "--rm", "-T", "--no-deps", service, *args,
                   capture=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise docker.DockerError(f"{service} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
