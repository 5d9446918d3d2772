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
import tempfile
from collections.abc import Iterator

import httpx
import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import REPO, config
from comms_sandbox.certs import ensure_certificates
from comms_sandbox.compose import (
    IMAGES_ENV,
    engine_answers,
    has_profile_services,
    start_services,
    stop_profile_services,
)
from comms_sandbox.credentials import ensure_credentials
from scenarios import lessons
from scenarios.result import SHARED_RESULTS, ScenarioResult, run_once
from tests.helpers import StackState

# Ryuk (testcontainers' reaper) is an image that cannot be pulled without a
# registry; the fixture below removes what it started itself.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# Each lesson's scenario runs once per session: its page's `python -m scenarios
# run` (a subprocess, which inherits this) and its tests share the result.
os.environ[SHARED_RESULTS] = tempfile.mkdtemp(prefix="sandbox-results-")


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
    ensure_credentials()
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


def lesson_of(request: pytest.FixtureRequest) -> lessons.Lesson | None:
    """The lesson a module tests, by its name (test_<package>.py), if it tests one."""
    package = request.module.__name__.rsplit(".", 1)[1].removeprefix("test_")
    found = [lesson for lesson in lessons.discover().values() if lesson.package == package]
    return found[0] if found else None


@pytest.fixture(scope="module", autouse=True)
def lesson_services(request: pytest.FixtureRequest, stack: DockerCompose) -> Iterator[None]:
    """A lesson's own services (behind its Compose profile) for the module that tests it,
    started as `make up LESSON=<name>` does and stopped after it: left running, they
    would slow every later test."""
    lesson = lesson_of(request)
    if lesson is None or not has_profile_services(lesson.services):
        yield
        return
    try:
        start_services(lesson.services)
    except Exception:
        stop_profile_services(lesson.services)  # half-started, they would slow every later test
        raise
    yield
    stop_profile_services(lesson.services)


@pytest.fixture(scope="module")
def result(request: pytest.FixtureRequest, stack: DockerCompose) -> ScenarioResult:
    """The scenario of the lesson a module tests (test_<package>.py), run once per session.

    The integration tests assert on the same run() that `python -m scenarios run` prints:
    whichever of the two comes first runs it, the other reads its result (run_once).
    """
    lesson = lesson_of(request)
    assert lesson is not None, f"{request.module.__name__} names no lesson"
    return run_once(lesson.name, lesson.module.run)
