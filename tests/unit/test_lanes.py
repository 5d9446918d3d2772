"""The two test lanes of `make test` (tests/lanes.py) cannot get in each other's way."""

import threading
from pathlib import Path

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
from tests.integration import test_reports

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


@pytest.mark.parametrize("lesson", list(lessons.discover()))
def test_no_lesson_restarts_nginx(lesson: str) -> None:
    """Starting a service nginx looks up once a minute restarts nginx
    (let_proxy_follow), which would cut the other lane's connections: those a
    lesson uses run from the start (prestarted_services)."""
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
    assert lanes.lane_of(lanes.NO_LESSON, "test_proxy.py") == lanes.OWN


def named_in_lists() -> set[str]:
    return {*lanes.DISRUPTS_STACK, *lanes.OWN_LANE_USERS, *lanes.OWN_MODULES,
            *lanes.OWN_INFRASTRUCTURE, *lanes.LAST_IN_STACK_LANE}  # fmt: skip


def test_every_name_in_the_lanes_lists_is_a_lesson_or_a_module() -> None:
    for name in named_in_lists():
        module = REPO / "tests" / "integration" / name
        assert name in lessons.discover() or (name.endswith(".py") and module.exists()), name


def test_what_disrupts_the_stack_holds_it_alone_and_runs_in_the_stack_lane() -> None:
    """Two disruptions at once (one per lane) would each see the other's."""
    for name in lanes.DISRUPTS_STACK:
        lesson, module = (lanes.NO_LESSON, name) if name.endswith(".py") else (name, "")
        assert lanes.role_of(lesson, module) == lanes.ALONE
        assert lanes.lane_of(lesson, module) == lanes.STACK, name


def test_lessons_of_their_own_take_no_lock_and_users_of_the_stack_share_it() -> None:
    assert lanes.role_of("clusters") == lanes.NONE
    assert lanes.role_of(lanes.NO_LESSON, "test_compose_config.py") == lanes.NONE
    assert lanes.role_of("http-versions") == lanes.SHARED
    assert lanes.role_of(lanes.NO_LESSON, "test_exposure.py") == lanes.SHARED


def test_each_lane_runs_its_shared_tests_first_and_the_outbox_last() -> None:
    stack = sorted(["idempotency-and-outbox", "load-balancing", "network-faults"],
                   key=lanes.order_in_lane)  # fmt: skip
    assert stack == ["network-faults", "load-balancing", "idempotency-and-outbox"]
    own = sorted(["clusters", "http-versions", "databases", "webrtc"], key=lanes.order_in_lane)
    assert own == ["http-versions", "webrtc", "clusters", "databases"]
    for lesson in lanes.LAST_IN_STACK_LANE:
        assert lanes.lane_of(lesson) == lanes.STACK


def hold_in_thread(lock: lanes.StackLock, role: str) -> threading.Thread:
    thread = threading.Thread(target=lock.hold, args=(role,), daemon=True)
    thread.start()
    return thread


def test_the_lock_is_shared_by_users_and_held_alone_by_a_disruption(tmp_path: Path) -> None:
    path = tmp_path / "stack.lock"
    own, stack = lanes.StackLock(path), lanes.StackLock(path)
    own.hold(lanes.SHARED)
    other_user = hold_in_thread(lanes.StackLock(path), lanes.SHARED)
    other_user.join(2)
    assert not other_user.is_alive(), "two users share it"
    disruption = hold_in_thread(stack, lanes.ALONE)
    disruption.join(0.3)
    assert disruption.is_alive(), "held alone while the other lane still shares it"
    own.hold(lanes.NONE)  # the own lane's lessons of their own: no lock
    disruption.join(2)
    assert not disruption.is_alive() and stack.role == lanes.ALONE
    user = hold_in_thread(own, lanes.SHARED)
    user.join(0.3)
    assert user.is_alive(), "shared while the other lane disrupts the stack"
    stack.release()
    user.join(2)
    assert not user.is_alive() and own.role == lanes.SHARED


def test_the_reports_module_runs_in_the_lane_of_the_lessons_it_reports_on() -> None:
    """A session's run of a lesson is shared by the modules of one lane (run_once):
    in another lane, the reports would run the lessons a second time."""
    lane = lanes.lane_of(lanes.NO_LESSON, "test_reports.py")
    assert {lanes.lane_of(name) for name in test_reports.LESSONS} == {lane}
    assert {lanes.role_of(name) for name in test_reports.LESSONS} == {lanes.SHARED}


def test_the_failed_tests_end_the_output_short_and_bounded() -> None:
    own = lanes.Lane(lanes.OWN, [], 0, Path("own.json"))
    own.failing_tests = ["FAILED tests/integration/test_a.py::test_x - " + "x" * 500]
    stack = lanes.Lane(lanes.STACK, [], 0, Path("stack.json"))
    stack.failing_tests = [f"ERROR tests/integration/test_b.py::test_{n}" for n in range(20)]
    lines = lanes.failure_lines([own, stack], width=100, most=5)
    assert lines[0].startswith("[own] FAILED tests/integration/test_a.py::test_x")
    assert len(lines[0]) == 100 and lines[0].endswith("...")
    assert lines[1] == "[stack] ERROR tests/integration/test_b.py::test_0"
    assert lines[-1] == "... and 16 more failed tests above"
    assert lanes.is_failure_summary("FAILED tests/unit/test_x.py::test_y - assert 1 == 2\n")
    assert not lanes.is_failure_summary("tests/unit/test_x.py::test_y FAILED")
