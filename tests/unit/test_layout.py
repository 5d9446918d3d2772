"""A lesson is one folder: every proxy, bench and compose file belongs to a lesson by its
name or place, and each page lists the lesson's files (no Docker)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.__main__ import benchmark_modules
from comms_sandbox import REPO
from comms_sandbox.compose import compose_file
from comms_sandbox.compose_model import read_yaml
from scenarios import lessons

LESSONS = list(lessons.discover().values())
IDS = [lesson.name for lesson in LESSONS]
PACKAGES = {lesson.package: lesson for lesson in LESSONS}
# The nginx site's own modules: how a config is described, rendered and put together.
PROXY_CORE = {"__init__", "__main__", "model", "nginx_builder", "site"}
# What the top level holds; a lesson's config lives in its folder, not in a new one here.
TOP_LEVEL = {".ci", "bench", "broker", "comms_sandbox", "images", "proxy", "scenarios", "scripts",
             "services", "tests"}  # fmt: skip


def tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", pattern], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    return [REPO / name for name in listed]


def test_the_top_level_has_no_lesson_folders() -> None:
    folders = {path.relative_to(REPO).parts[0] for path in tracked("*/*")}
    assert folders <= TOP_LEVEL, f"not a place for a lesson's files: {folders - TOP_LEVEL}"


@pytest.mark.parametrize("path", sorted((REPO / "proxy").glob("*.py")), ids=lambda p: p.name)
def test_a_proxy_module_is_the_site_or_named_after_a_lesson(path: Path) -> None:
    assert path.stem in PROXY_CORE | set(PACKAGES), f"proxy/{path.name} is named after no lesson"


@pytest.mark.parametrize("module", benchmark_modules(), ids=lambda m: m.__name__)
def test_a_benchmark_is_named_after_its_lesson_or_sits_apart(module) -> None:
    place, stem = module.__name__.rsplit(".", 1)
    if place == "bench.stack":  # measures the stack, or several lessons at once
        assert module.LESSON is None
        return
    assert stem in PACKAGES, f"bench/{stem}.py is named after no lesson (no lesson's: bench/stack/)"
    assert module.NAME == module.LESSON == PACKAGES[stem].name


def test_bench_support_holds_no_benchmark() -> None:
    for path in (REPO / "bench" / "support").glob("*.py"):
        assert "def tables(" not in path.read_text(), f"{path.name}: a benchmark goes elsewhere"


def included_files() -> list[Path]:
    data = read_yaml(REPO / "compose.yaml")
    return [(REPO / entry).resolve() for entry in data.get("include", [])]


def test_compose_includes_exactly_the_lessons_compose_files() -> None:
    lesson_files = {lesson.compose_file for lesson in LESSONS if lesson.compose_file}
    on_disk = set((REPO / "scenarios").glob("*/compose.yaml"))
    assert on_disk == lesson_files, "a compose file in a folder that is no lesson"
    assert sorted(included_files()) == sorted(lesson_files)


def test_a_lesson_profile_service_is_declared_in_that_lessons_compose_file() -> None:
    for name, service in compose_file()["services"].items():
        for profile in service.get("profiles", ()):
            if profile in lessons.discover():
                lesson = lessons.get(profile)
                expected = lesson.compose_file.relative_to(REPO).as_posix()
                assert service["x-file"] == expected, f"{name} belongs in {expected}"


def test_every_service_extends_the_shared_templates() -> None:
    # restart, logging and hardening are written once (compose.templates.yaml).
    files = [REPO / "compose.yaml", *included_files()]
    for path in files:
        for name, service in (read_yaml(path).get("services") or {}).items():
            assert "extends" in service, f"{name} ({path.name}) repeats what a template holds"


def test_every_host_path_a_service_mounts_exists() -> None:
    generated = REPO / ".sandbox"  # made by `make up`: certificates, credentials
    for name, service in compose_file()["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("./"):
                path = (REPO / source).resolve()
                assert path.exists() or path.is_relative_to(generated), f"{name}: {source}"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_the_page_lists_the_lessons_files_under_one_heading(lesson: lessons.Lesson) -> None:
    page = lesson.page.read_text()
    assert page.count(f"\n{lessons.FILES_HEADING}\n") == 1, "one `## Files` section"
    assert "\n## Where things live\n" not in page, "the files are listed under `## Files`"
    assert lessons.files_section(page) == lessons.files_markdown(lesson) + (
        "" if page.endswith(lessons.files_markdown(lesson)) else "\n"
    ), f"stale: python -m scenarios files {lesson.name} --write"


def test_a_lessons_files_include_its_compose_file_and_named_modules() -> None:
    webrtc = {p.relative_to(REPO).as_posix() for p in lessons.get("webrtc").files()}
    assert {"scenarios/webrtc/compose.yaml", "scenarios/webrtc/turnserver.conf",
            "proxy/webrtc.py", "bench/webrtc.py", "services/rtcpeer"} <= webrtc  # fmt: skip


def test_a_stale_files_section_is_found() -> None:
    lesson = lessons.get("webrtc")
    page = f"# Title\n\n{lessons.FILES_HEADING}\n\n- [gone.py](gone.py)\n\n## After\n"
    fresh = lessons.with_files_section(page, lesson)
    assert lessons.files_section(page) != lessons.files_markdown(lesson) + "\n"
    assert lessons.files_section(fresh) == lessons.files_markdown(lesson) + "\n"
    assert fresh.endswith("## After\n")
