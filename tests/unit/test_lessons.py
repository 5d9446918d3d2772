"""Lessons register themselves: each is complete, and the README's table lists exactly them."""

import re

import pytest

from comms_sandbox import REPO
from comms_sandbox.compose import compose_file, with_dependencies
from scenarios import lessons

LESSONS = list(lessons.discover().values())
IDS = [lesson.name for lesson in LESSONS]
TABLE_ROW = re.compile(r"^\|\s*`(?P<name>[a-z0-9-]+)`\s*\|.*\((?P<link>[^)]+)\)\s*\|\s*$")


def readme_lessons() -> list[tuple[str, str]]:
    """(name, link) of each row of the README's `## Lessons` table."""
    section = (REPO / "README.md").read_text().split("\n## Lessons\n", 1)[1].split("\n## ", 1)[0]
    return [(m["name"], m["link"]) for m in map(TABLE_ROW.match, section.splitlines()) if m]


def test_lessons_are_discovered() -> None:
    assert len(LESSONS) >= 8
    assert "load-balancing" in IDS


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_name_is_the_folder(lesson: lessons.Lesson) -> None:
    assert lesson.package == lesson.name.replace("-", "_")


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_a_lesson_has_its_scenario_page_and_tests(lesson: lessons.Lesson) -> None:
    assert callable(lesson.module.run) and callable(lesson.module.render)
    assert lesson.summary, "the docstring's first line is the lesson's summary"
    assert lesson.page.is_file(), f"no page at {lesson.page}"
    assert lesson.test_module.is_file(), f"no integration tests at {lesson.test_module}"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_a_lesson_starts_known_long_running_services(lesson: lessons.Lesson) -> None:
    services = compose_file()["services"]
    assert lesson.services, "SERVICES: what `make up LESSON=...` starts"
    for name in lesson.services:
        assert name in services, f"{name} is not a service of compose.yaml"
        # Started by a plain `up`, or behind the lesson's own profile (which
        # `make up LESSON=...` enables), never another lesson's.
        profiles = set(services[name].get("profiles", ()))
        assert profiles <= {lesson.name}, f"{name} is behind profiles {profiles}"


def test_the_readme_table_lists_exactly_the_lessons_in_order() -> None:
    rows = readme_lessons()
    assert [name for name, _ in rows] == IDS
    for lesson, (_, link) in zip(LESSONS, rows, strict=True):
        assert (REPO / link).resolve() == lesson.page


def test_an_unknown_lesson_names_the_known_ones() -> None:
    with pytest.raises(lessons.UnknownLessonError) as error:
        lessons.get("no-such-lesson")
    assert "load-balancing" in str(error.value)


# Lessons that follow orders into the brokers. Nothing depends on the outbox relay or
# on the brokers (the api only commits; the relay must run while a broker is down), so
# `make up LESSON=...` starts them only if the lesson names them.
FOLLOWS_ORDERS_TO_THE_BROKERS = ("pubsub-compare", "idempotency-and-outbox", "observability")


@pytest.mark.parametrize("name", FOLLOWS_ORDERS_TO_THE_BROKERS)
def test_a_lesson_that_follows_orders_starts_the_relay_and_both_brokers(name: str) -> None:
    started = with_dependencies(lessons.get(name).services)
    assert {"outbox-relay", "rabbitmq", "kafka", "kafka-init"} <= started
