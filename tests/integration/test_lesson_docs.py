"""Every lesson page's `console` commands run against the real stack and keep their promises."""

import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import REPO
from comms_sandbox.compose import stop_profile_services
from scenarios import lessons
from tests.docs_runner import check, console_commands

LESSONS = list(lessons.discover().values())


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_the_lesson_page_runs_as_written(stack: DockerCompose, lesson: lessons.Lesson) -> None:
    commands = console_commands(lesson.page.read_text())
    assert commands, f"{lesson.page} has no `console` block: nothing on it is checked"
    try:
        for command in commands:
            problem = check(command, REPO)
            assert problem is None, f"{lesson.page.relative_to(REPO)} {problem}"
    finally:
        stop_profile_services(lesson.services)  # the page started them; later tests need not
