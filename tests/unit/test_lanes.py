"""The two test lanes of `make test` (tests/lanes.py) cannot get in each other's way."""

import pytest

from comms_sandbox import REPO
from comms_sandbox.compose import (
    compose_file,
    profile_services,
    proxied_services,
    with_dependencies,
)
from scenarios import lessons
from tests import lanes

SERVICES = compose_file()["services"]
ONCE_A_MINUTE = {name for name, slow in proxied_services().items() if slow}


def is_default(service: str) -> bool:
    return not SERVICES[service].get("profiles")


@pytest.mark.parametrize("lesson", lanes.OWN_INFRASTRUCTURE)
def test_an_own_lane_lesson_starts_no_default_service(lesson: str) -> None:
    """The stack lane re-creates, scales, stops and kills default services. In a lane,
    a lesson starts only its profile's services (conftest's LessonServices), and `up`
    also converges what they depend on: that must be none of the default ones."""
    own = profile_services(lessons.get(lesson).services)
    shared = sorted(s for s in with_dependencies(own) if is_default(s))
    assert own and not shared, f"{lesson}'s services depend on default services {shared}"


def test_a_lesson_with_a_default_service_fails_the_check() -> None:
    shared = [s for s in with_dependencies(["api-faults"]) if is_default(s)]
    assert shared, "network-faults' api-faults depends on pricing: not an own-lane lesson"


@pytest.mark.parametrize(
    "lesson", [n for n in lessons.discover() if lanes.lane_of(n) == lanes.STACK]
)
def test_a_stack_lane_lesson_never_restarts_nginx(lesson: str) -> None:
    """Starting a service nginx looks up once a minute restarts nginx
    (let_proxy_follow), which would cut the other lane's connections: those a
    stack-lane lesson uses run from the start (prestarted_services)."""
    services = with_dependencies(lessons.get(lesson).services)
    assert services & ONCE_A_MINUTE <= set(lanes.prestarted_services())


def test_what_nginx_looks_up_once_a_minute_starts_with_the_stack() -> None:
    assert set(lanes.prestarted_services()) == ONCE_A_MINUTE
    assert {"exec-async", "echo"} <= ONCE_A_MINUTE


def test_every_lesson_has_one_lane_and_tests_of_no_lesson_go_with_the_stack() -> None:
    assert set(lanes.OWN_INFRASTRUCTURE) <= set(lessons.discover())
    assert lanes.lane_of(lanes.NO_LESSON) == lanes.STACK
    assert lanes.lane_of("clusters") == lanes.OWN
    assert lanes.lane_of(lanes.NO_LESSON, "test_stack_state.py") == lanes.OWN
    assert lanes.lane_of(lanes.NO_LESSON, "test_exposure.py") == lanes.STACK


def test_what_runs_last_in_the_stack_lane_is_a_stack_lane_lesson() -> None:
    for lesson in lanes.LAST_IN_STACK_LANE:
        assert lanes.lane_of(lessons.get(lesson).name) == lanes.STACK


def test_the_own_lanes_modules_of_no_lesson_exist() -> None:
    for module in lanes.OWN_MODULES:
        assert (REPO / "tests" / "integration" / module).exists(), module
