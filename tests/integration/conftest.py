"""The real stack, started once per test session with testcontainers' DockerCompose.

A missing Docker engine is a failure, never a skip: these tests exist to run
against real nginx, RabbitMQ and Kafka. If the sandbox is already up (`make
up`), the tests use it and leave it running; if it was stopped, they stop it
again; otherwise they start it and remove what they created, volumes
included. A volume that existed before (broker data kept by `make down`)
is never removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, sync_playwright
from testcontainers.compose import DockerCompose

from comms_sandbox import config
from comms_sandbox.compose import (
    containers_by_service,
    engine_answers,
    follow_tracing,
    has_profile_services,
    profile_services,
    running_services,
    start_services,
    stop_profile_services,
)
from comms_sandbox.stack_state import StackState
from scenarios import lessons
from scenarios.result import SHARED_RESULTS, ScenarioResult, run_once
from tests import lanes
from tests.integration.browser import CHROMIUM, proxy_key_pin


@pytest.fixture(scope="session", autouse=True)
def session_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Set for the session, not on import: importing a test module changes nothing."""
    with pytest.MonkeyPatch.context() as env:
        # Ryuk (testcontainers' reaper) is an image that cannot be pulled without a
        # registry; the fixture below removes what it started itself.
        if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
            env.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
        # Each lesson's scenario runs once per session: its page's `python -m scenarios
        # run` (a subprocess, which inherits this) and its tests share the result.
        env.setenv(SHARED_RESULTS, str(tmp_path_factory.mktemp("sandbox-results")))
        yield


def lane() -> str | None:
    """The lane this session is, when tests/lanes.py runs two side by side; None alone."""
    return os.environ.get(lanes.LANE_VARIABLE) or None


@pytest.fixture(scope="session")
def stack() -> Iterator[DockerCompose]:
    if not engine_answers():
        pytest.fail(
            "No Docker engine answers: the integration tests need the real stack. "
            "`make test` installs and starts one on a Debian host run as root.",
            pytrace=False,
        )
    if lane():  # tests/lanes.py started it and restores it
        yield lanes.stack_compose()
        return
    found = StackState.now()
    sandbox = lanes.start_default_stack()
    # Compose's own default is tracing off: on again if the observability lesson runs.
    follow_tracing()
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


class LessonServices:
    """The one lesson whose own services (behind its Compose profile) run now.

    Switching to another lesson, or to a module that tests none, stops them
    first: left running, they would slow every later test and change what the
    exposure test counts. A lesson's page runs right after the lesson's module
    (pytest_collection_modifyitems) and finds them still up, instead of
    starting them again (the clusters take about 40 s).
    """

    def __init__(self) -> None:
        self.current: lessons.Lesson | None = None

    @staticmethod
    def to_start(lesson: lessons.Lesson) -> list[str]:
        """As `make up LESSON=<name>` does: the lesson's services and what they need. In
        the own lane, only its profile's: `up` of a default service would also bring
        the ones it depends on back to compose.yaml's model (scale, the tracing switch)
        under the stack lane, and tests/lanes.py started the default stack already."""
        if lane() == lanes.OWN:
            return profile_services(lesson.services)
        return list(lesson.services)

    def use(self, lesson: lessons.Lesson | None) -> None:
        if lesson is not None and not has_profile_services(lesson.services):
            lesson = None
        if (self.current and self.current.name) == (lesson and lesson.name):
            return
        if self.current is not None:
            with timed(SERVICES_SHARE, self.current.name, "stop"):
                stop_profile_services(self.current.services)
            self.current = None
        if lesson is not None:
            try:
                with timed(SERVICES_SHARE, lesson.name, "start"):
                    start_services(self.to_start(lesson))
            except Exception:
                stop_profile_services(lesson.services)  # half-started: stop them too
                raise
            self.current = lesson


@pytest.fixture(scope="session")
def lesson_services_now(stack: DockerCompose) -> Iterator[LessonServices]:
    # A lesson's services left running by an earlier run or by hand: the tests count
    # what runs (test_exposure), so the session starts with the default stack only.
    # In a lane, tests/lanes.py did that, and the other lane's lessons run.
    if not lane():
        stop_profile_services(running_services())
    services = LessonServices()
    yield services
    services.use(None)


@pytest.fixture(scope="module", autouse=True)
def lesson_services(
    request: pytest.FixtureRequest, lesson_services_now: LessonServices
) -> Iterator[None]:
    """The services of the lesson a module tests (test_<package>.py), or none for a module
    that tests no lesson. A module that sets MANAGES_LESSON_SERVICES (the pages' test)
    chooses per test. In the stack lane, a module that re-created nginx fails: that
    cut every connection the other lane held through it."""
    if not getattr(request.module, "MANAGES_LESSON_SERVICES", False):
        lesson_services_now.use(lesson_of(request))
    proxy_before = containers_by_service(["proxy"]) if lane() else None
    yield
    if proxy_before is not None and containers_by_service(["proxy"]) != proxy_before:
        pytest.fail(f"{request.module.__name__} re-created nginx under the other test lane "
                    f"(Compose re-creates it in an `up` that names it and re-creates the api)",
                    pytrace=False)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Only this lane's tests (tests/lanes.py), and each lesson's page right after its
    module's tests: its services are still up."""
    if lane():
        mine = [item for item in items if in_this_lane(item)]
        config.hook.pytest_deselected(items=[item for item in items if item not in mine])
        items[:] = mine
    pages = {item.callspec.params["lesson"].package: item for item in items
             if item.path.name == "test_lesson_docs.py" and hasattr(item, "callspec")}  # fmt: skip
    ordered = [item for item in items if item not in pages.values()]
    for package, page in pages.items():
        module = f"test_{package}.py"
        last = max((i for i, item in enumerate(ordered) if item.path.name == module), default=None)
        ordered.insert(len(ordered) if last is None else last + 1, page)
    if lane():  # stable: within each part, the order above
        ordered.sort(key=lambda item: lanes.order_in_lane(lesson_of_item(item.nodeid),
                                                          item.path.name))  # fmt: skip
    items[:] = ordered


STACK_LOCK = lanes.StackLock(Path(os.environ.get(lanes.LOCK_VARIABLE) or "/dev/null"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """In a lane, before the test's fixtures (a lesson's services, its run): the lock on
    the default stack as the test's role wants it (tests/lanes.py)."""
    if not (lane() and os.environ.get(lanes.LOCK_VARIABLE)):
        return
    lesson = lesson_of_item(item.nodeid)
    waited = STACK_LOCK.hold(lanes.role_of(lesson, item.path.name))
    if waited >= 1:
        share = SERVICES_SHARE.setdefault(lesson, {})
        share[lanes.WAITED] = share.get(lanes.WAITED, 0) + waited


@pytest.fixture(scope="module")
def result(request: pytest.FixtureRequest, stack: DockerCompose) -> ScenarioResult:
    """The scenario of the lesson a module tests (test_<package>.py), run once per session.

    The integration tests assert on the same run() that `python -m scenarios run` prints:
    whichever of the two comes first runs it, the other reads its result (run_once).
    """
    lesson = lesson_of(request)
    assert lesson is not None, f"{request.module.__name__} names no lesson"
    return run_once(lesson.name, lesson.module.run)


@pytest.fixture(scope="module")
def browser(stack: DockerCompose) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"No browser at {CHROMIUM}: the browser test drives Debian's chromium. "
            "Run scripts/ensure-browser.sh (on a Debian host as root it installs it), "
            "or install your distribution's chromium package.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[f"--ignore-certificate-errors-spki-list={proxy_key_pin()}"],
            )
        except Error as exc:
            pytest.fail(
                f"Playwright could not start {CHROMIUM} ({exc.message.splitlines()[0]}); "
                "scripts/ensure-browser.sh installs a working one.",
                pytrace=False,
            )
        yield launched
        launched.close()


# Each lesson's share of the run's time: setup (starting its services, running its
# scenario once), its tests and its page, summed per lesson; the rest is "the stack".
SHARE: dict[str, float] = {}
# Of which starting and stopping the lesson's own services, per lesson.
SERVICES_SHARE: dict[str, dict[str, float]] = {}


@contextlib.contextmanager
def timed(into: dict[str, dict[str, float]], lesson: str, what: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        share = into.setdefault(lesson, {})
        share[what] = share.get(what, 0.0) + time.monotonic() - started


def in_this_lane(item: pytest.Item) -> bool:
    return lanes.lane_of(lesson_of_item(item.nodeid), item.path.name) == lane()


def lesson_of_item(nodeid: str) -> str:
    """The lesson a test belongs to: by its module's name, or a page test's parameter."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removeprefix("test_").removesuffix(".py")
    if module == "lesson_docs" and "[" in nodeid:
        return nodeid.rsplit("[", 1)[1].rstrip("]")
    found = [n for n, lesson in lessons.discover().items() if module.startswith(lesson.package)]
    return max(found, key=len) if found else lanes.NO_LESSON


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    lesson = lesson_of_item(report.nodeid)
    SHARE[lesson] = SHARE.get(lesson, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SHARE:
        return
    total = sum(SHARE.values())
    terminalreporter.section("time per lesson (setup, tests and page)")
    for lesson, seconds in sorted(SHARE.items(), key=lambda item: -item[1]):
        parts = lanes.describe_parts(SERVICES_SHARE.get(lesson, {}))
        terminalreporter.write_line(f"{lesson:28} {seconds:7.1f} s  {100 * seconds / total:5.1f} %"
                                    + parts)  # fmt: skip
    terminalreporter.write_line(f"{'total':28} {total:7.1f} s")
    if shares := os.environ.get(lanes.SHARES_VARIABLE):
        Path(shares).write_text(json.dumps({"lessons": SHARE, "services": SERVICES_SHARE}))
