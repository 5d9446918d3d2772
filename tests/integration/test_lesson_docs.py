"""Every lesson page's `console` commands run against the real stack and keep their promises."""

import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import REPO
from scenarios import lessons
from tests.docs_runner import broken_links, check, console_commands
from tests.integration.conftest import LessonServices

LESSONS = list(lessons.discover().values())
# Each page runs right after its lesson's module, with that lesson's services
# (conftest.py); a page's own `stack up --lesson` then finds them running.
MANAGES_LESSON_SERVICES = True


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_the_lesson_page_runs_as_written(
    stack: DockerCompose, lesson_services_now: LessonServices, lesson: lessons.Lesson
) -> None:
    lesson_services_now.use(lesson)
    links = broken_links(lesson.page, REPO)
    assert not links, f"{lesson.page.relative_to(REPO)} links to nothing:\n" + "\n".join(links)
    commands = console_commands(lesson.page.read_text())
    assert commands, f"{lesson.page} has no `console` block: nothing on it is checked"
    for command in commands:
        problem = check(command, REPO)
        assert problem is None, f"{lesson.page.relative_to(REPO)} {problem}"
