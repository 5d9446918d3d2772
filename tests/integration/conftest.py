"""The real stack, started once per test session with testcontainers' DockerCompose.

A missing Docker engine is a failure, never a skip: these tests exist to run
against real nginx, RabbitMQ and Kafka. If the sandbox is already up (`make
up`), the tests use it and leave it running; if it was stopped, they stop it
again; otherwise they start it and remove what they created, volumes
included. A volume that existed before (broker data kept by `make down`)
is never removed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import REPO, config
from comms_sandbox.certs import ensure_certificates
from comms_sandbox.compose import IMAGES_ENV, compose, compose_file, engine_answers
from scenarios import lessons
from scenarios.result import ScenarioResult

# Ryuk (testcontainers' reaper) is an image that cannot be pulled without a
# registry; the fixture below removes what it started itself.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def project_containers() -> list[str]:
    return compose("ps", "--all", "--quiet", capture=True).stdout.split()


def project_volumes() -> list[str]:
    """The named volumes of this Compose project that exist now."""
    result = subprocess.run(
        ["docker", "volume", "ls", "--quiet", "--filter",
         f"label=com.docker.compose.project={compose_file()['name']}"],
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
        if self.stopped:
            compose("stop", capture=True)
            return
        compose("down", "--remove-orphans", capture=True)  # keeps volumes
        for volume in sorted(set(project_volumes()) - self.volumes):
            subprocess.run(["docker", "volume", "rm", volume], capture_output=True, check=False)


@pytest.fixture(scope="session")
def stack() -> Iterator[DockerCompose]:
    if not engine_answers():
        pytest.fail(
            "No Docker engine answers: the integration tests need the real stack. "
            "`make test` installs and starts one on a Debian host run as root.",
            pytrace=False,
        )
    found = StackState.now()
    ensure_certificates()  # compose bind-mounts them; `make up` does the same
    sandbox = DockerCompose(
        context=REPO,
        compose_file_name="compose.yaml",
        env_file=str(IMAGES_ENV) if IMAGES_ENV.exists() else None,
        build=True,
        wait=True,
    )
    sandbox.start()
    yield sandbox
    found.restore()


@pytest.fixture(scope="session")
def proxy(stack: DockerCompose) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=config.proxy_url(), timeout=10, verify=config.tls_context()
    ) as client:
        yield client


@pytest.fixture(scope="module")
def result(request: pytest.FixtureRequest, stack: DockerCompose) -> ScenarioResult:
    """The scenario of the lesson a module tests (test_<package>.py), run once per module.

    The integration tests assert on the same run() that `python -m scenarios run` prints.
    """
    package = request.module.__name__.rsplit(".", 1)[1].removeprefix("test_")
    (lesson,) = (lesson for lesson in lessons.discover().values() if lesson.package == package)
    return lesson.module.run()
