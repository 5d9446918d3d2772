"""The lessons' pages show a real run: every figure is embedded, has its run, and is what its
committed result.json draws, byte for byte (`make figures`; no Docker)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from comms_sandbox import config
from scenarios import lessons
from scenarios.charts import save_phases
from scenarios.reports import figures
from tests.docs_runner import broken_links

LESSONS = list(lessons.discover().values())
EMBEDDED = re.compile(r"!\[[^\]]*\]\(figures/(?P<name>[^)\s]+\.png)\)")


@pytest.fixture
def results_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lessons' own chart functions draw into results/ before the copy: into tmp_path
    here, so a test leaves the checkout's results/ as it was."""
    for lesson in LESSONS:
        if (lesson.folder / "render.py").is_file():
            importlib.import_module(f"{lesson.module.__name__}.render")
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path / "results")
    for name, module in list(sys.modules.items()):
        if name.startswith("scenarios.") and isinstance(getattr(module, "RESULTS_DIR", None), Path):
            monkeypatch.setattr(module, "RESULTS_DIR", tmp_path / "results")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_each_page_embeds_its_figures_and_each_figure_has_its_run(lesson: lessons.Lesson) -> None:
    folder = figures.folder(lesson)
    for name in figures.KEPT:
        assert (folder / name).is_file(), f"{lesson.name}: no figures/{name}: run `make figures`"
    committed = {png.name for png in folder.glob("*.png")}
    assert committed, f"{lesson.name}: no figure in {folder}: run `make figures`"
    page = lesson.page.read_text()
    assert {m["name"] for m in EMBEDDED.finditer(page)} == committed
    assert figures.section_of(page) == figures.section(lesson), (
        f"{lesson.page}'s `{figures.HEADING}` is not its figures': run `make figures`"
    )


@pytest.mark.usefixtures("results_elsewhere")
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_each_figure_is_what_its_committed_run_draws(
    lesson: lessons.Lesson, tmp_path: Path
) -> None:
    committed = {png.name: png.read_bytes() for png in figures.folder(lesson).glob("*.png")}
    drawn = {p.name: p.read_bytes() for p in figures.redraw(lesson, tmp_path / "drawn")}
    assert set(drawn) == set(committed), f"{lesson.name}: run `make figures`"
    for name, data in drawn.items():
        assert data == committed[name], f"{lesson.name}: figures/{name} differs: run `make figures`"


def test_a_chart_is_the_same_bytes_each_time_and_names_no_software(tmp_path: Path) -> None:
    def draw(path: Path) -> bytes:
        return save_phases(
            path, "a kill", [("stream", 0, 4), ("down", 1, 3)], {"kill": 1.0}
        ).read_bytes()

    first, second = draw(tmp_path / "a.png"), draw(tmp_path / "b.png")
    assert first == second
    assert b"Software" not in first and b"matplotlib" not in first.lower()


# The page's section, placed and replaced in pages of our own.

GRPC = lessons.get("grpc")


def test_a_new_section_goes_before_files() -> None:
    page = "# grpc\n\n## Run it\n\ntext\n\n## Files\n\n- a\n"
    made = figures.with_section(page, GRPC)
    assert made.index(figures.HEADING) < made.index("## Files")
    assert made.startswith("# grpc\n\n## Run it\n\ntext\n\n" + figures.section(GRPC) + "\n## Files")


def test_a_section_is_replaced_not_repeated() -> None:
    page = f"# grpc\n\n{figures.HEADING}\n\nold\n\n## Files\n\n- a\n"
    made = figures.with_section(figures.with_section(page, GRPC), GRPC)
    assert made.count(figures.HEADING) == 1 and "old" not in made
    assert made.endswith("\n## Files\n\n- a\n")


def test_a_page_without_files_gets_the_section_at_its_end() -> None:
    made = figures.with_section("# grpc\n\ntext\n", GRPC)
    assert made == "# grpc\n\ntext\n\n" + figures.section(GRPC)


def test_a_section_names_the_command_the_machine_and_the_run() -> None:
    text = figures.section(GRPC)
    assert "`python -m scenarios run grpc`" in text and "`make figures`" in text
    assert "(figures/result.json)" in text and "(figures/run.json)" in text


def test_a_named_lesson_without_a_run_fails_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = GRPC.page.read_text()
    assert figures.main(["grpc"], tmp_path) == 1
    assert "grpc: no run in" in capsys.readouterr().out
    assert GRPC.page.read_text() == before


def test_an_unknown_lesson_is_named_with_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        figures.main(["nosuch"], tmp_path)
    assert exit_.value.code == 2
    assert "no lesson named 'nosuch'; known: request-response" in capsys.readouterr().err


def test_figures_are_not_listed_as_the_lessons_files() -> None:
    assert not [p for p in GRPC.files() if p.is_relative_to(figures.folder(GRPC))]


def test_the_link_checker_finds_a_missing_figure(tmp_path: Path) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "here.png").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text("# a\n\n![here](figures/here.png)\n\n![gone](figures/gone.png)\n")
    assert broken_links(page, tmp_path) == [
        "line 5: link `figures/gone.png`: no file figures/gone.png"
    ]
