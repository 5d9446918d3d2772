"""Lessons are discovered, never listed: every package under scenarios/ that has a NAME is one.

A lesson is one folder, scenarios/<package>/, holding:
- `__init__.py`: a docstring (what the pattern is, what to look at; its
  first line is the one-line summary), `NAME` (kebab-case, the package
  name with "-" for "_"), `ORDER` (its place in the syllabus), `SERVICES`
  (the compose services the lesson starts; Compose adds their
  dependencies), `run() -> ScenarioResult`, `render(result, console)`, and
  optionally `where() -> [(what, where)]`, the rows `make up
  LESSON=<name>` prints;
- `README.md`: the lesson's page, whose `console` blocks run in CI;
- `compose.yaml`, if the lesson runs services of its own (compose.yaml
  includes it), beside the config files they mount;
- `figures/`: a real run (result.json, run.json) and its charts, which the
  page's `## A real run` section embeds (`make figures`);
and, by the same name, `tests/integration/test_<package>.py` and, if the
lesson has them, `proxy/<package>.py`, `bench/<package>.py` (whose NAME is
the lesson's), `comms_sandbox/<package>.py` (its host-side client) and unit
tests `tests/unit/test_<package>*.py` or `test_proxy_<package>.py`.
`Lesson.files()` lists all of it, with the services/ folders its compose file
runs and the files elsewhere that it names in SHARED_FILES; each page's
`## Files` section is that list (`python -m scenarios files NAME --write`),
which a unit test checks.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from comms_sandbox import REPO

SCENARIOS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Lesson:
    name: str
    module: ModuleType

    @property
    def package(self) -> str:
        return self.module.__name__.rsplit(".", 1)[1]

    @property
    def summary(self) -> str:
        return (self.module.__doc__ or "").strip().splitlines()[0]

    @property
    def order(self) -> int:
        return getattr(self.module, "ORDER", 1000)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(getattr(self.module, "SERVICES", ()))

    @property
    def page(self) -> Path:
        return SCENARIOS_DIR / self.package / "README.md"

    @property
    def test_module(self) -> Path:
        return REPO / "tests" / "integration" / f"test_{self.package}.py"

    def where(self) -> list[tuple[str, str]]:
        rows = getattr(self.module, "where", None)
        return list(rows()) if rows else []

    @property
    def folder(self) -> Path:
        return SCENARIOS_DIR / self.package

    @property
    def compose_file(self) -> Path | None:
        """scenarios/<package>/compose.yaml: the lesson's own services, if it has any."""
        path = self.folder / "compose.yaml"
        return path if path.is_file() else None

    def files(self) -> list[Path]:
        """Every file of the lesson, found by place and name (see the module docstring)."""
        own = sorted(p for p in self.folder.rglob("*")
                     if p.is_file() and not ignored(p) and not self.is_figure(p))  # fmt: skip
        named = [REPO / "proxy" / f"{self.package}.py", REPO / "bench" / f"{self.package}.py",
                 REPO / "comms_sandbox" / f"{self.package}.py", self.test_module]  # fmt: skip
        unit = REPO / "tests" / "unit"
        tests = sorted({*unit.glob(f"test_{self.package}*.py"),
                        *unit.glob(f"test_proxy_{self.package}.py")})  # fmt: skip
        services = [REPO / "services" / name for name in self.service_packages()]
        shared = [REPO / name for name in self.shared_files]
        found = [p for p in (*own, *named, *tests, *services) if p.exists()]
        inside = [d for d in found if d.is_dir()]
        return found + [p for p in shared if not any(p.is_relative_to(d) for d in inside)]

    def is_figure(self, path: Path) -> bool:
        """figures/ holds a run and its charts, shown by the page's `## A real run`
        (`make figures`, scenarios/reports/figures.py), not files of the lesson's code."""
        return path.relative_to(self.folder).parts[0] == "figures"

    @property
    def shared_files(self) -> tuple[str, ...]:
        """SHARED_FILES: files of other places the lesson relies on (the api, the
        site's proxy config, ...), repository-relative; a unit test checks they exist."""
        return tuple(getattr(self.module, "SHARED_FILES", ()))

    def service_packages(self) -> list[str]:
        """The services/ packages the lesson's compose file runs (by their commands)."""
        if self.compose_file is None:
            return []
        text = self.compose_file.read_text()
        found = RUNS_MODULE.findall(text) + BUILD_TARGET.findall(text)
        return sorted({name for name in found if (REPO / "services" / name).is_dir()})


# `python -m pkg`, `uvicorn pkg.main:app` and a build `target:` in a compose file.
RUNS_MODULE = re.compile(r'(?:"-m",\s*"|"uvicorn",\s*")(\w+)')
BUILD_TARGET = re.compile(r"^\s+target:\s*(\w+)\s*$", re.MULTILINE)


def ignored(path: Path) -> bool:
    """Caches are not the lesson's files."""
    return "__pycache__" in path.parts


def summary_of(path: Path) -> str:
    """A file's one-line description: a Python module's docstring, a config file's first
    comment, a page's title; empty when it has none."""
    if path.is_dir():
        init = path / "__init__.py"
        return summary_of(init) if init.is_file() else ""
    text = path.read_text(errors="replace")
    if path.suffix == ".py":
        doc = ast.get_docstring(ast.parse(text)) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""
    if path.suffix == ".md":
        titles = (line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#"))
        return next(titles, "")
    lines = text.splitlines()[:3]
    comments = (line.lstrip("#/ ").strip() for line in lines if line.startswith(("#", "//")))
    first = next((c for c in comments if c and not c.startswith("!")), "")
    return first.split(". ", 1)[0]  # a comment's first sentence


def test_arguments(lesson: Lesson, kind: str) -> list[str]:
    """pytest's arguments for a lesson's unit or integration tests; the integration
    ones end with the lesson's page (tests/integration/test_lesson_docs.py)."""
    folder = REPO / "tests" / kind
    own = [p for p in lesson.files() if p.parent == folder and p.name.startswith("test_")]
    if kind == "unit":  # and what every lesson must pass (its parts, its files): seconds
        own += [folder / "test_lessons.py", folder / "test_layout.py"]
        return [p.relative_to(REPO).as_posix() for p in own]
    own += folder.glob(f"test_{lesson.package}*.py")
    page = f"{folder.relative_to(REPO)}/test_lesson_docs.py::{PAGE_TEST}[{lesson.name}]"
    return [*sorted({p.relative_to(REPO).as_posix() for p in own}), page]


PAGE_TEST = "test_the_lesson_page_runs_as_written"


FILES_HEADING = "## Files"
FILES_NOTE = "<!-- made by `python -m scenarios files {name} --write`; a unit test checks it -->"


def files_markdown(lesson: Lesson) -> str:
    """The `## Files` section of a lesson's page: each file linked, with its summary."""
    lines = [FILES_HEADING, "", FILES_NOTE.format(name=lesson.name), ""]
    for path in lesson.files():
        shown = path.relative_to(REPO).as_posix() + ("/" if path.is_dir() else "")
        slash = "/" if path.is_dir() else ""
        link = Path(os.path.relpath(path, lesson.folder)).as_posix() + slash
        summary = summary_of(path)
        lines.append(f"- [{shown}]({link})" + (f": {summary}" if summary else ""))
    return "\n".join(lines) + "\n"


def files_section(page: str) -> str | None:
    """The `## Files` section of a page's text, up to the next `## ` heading."""
    return page_section(page, FILES_HEADING)


def page_section(page: str, heading: str) -> str | None:
    """The section of a page's text under `heading` (a `## ` line), up to the next one."""
    start = page.find(f"\n{heading}\n")
    if start < 0:
        return None
    end = page.find("\n## ", start + 1)
    return page[start + 1 : end + 1 if end >= 0 else len(page)]


def with_files_section(page: str, lesson: Lesson) -> str:
    """The page with its `## Files` section made anew (appended when it has none)."""
    section = files_section(page)
    fresh = files_markdown(lesson)
    if section is None:
        return page.rstrip("\n") + "\n\n" + fresh
    last = page.endswith(section)
    return page.replace(section, fresh if last else fresh + "\n", 1)


@cache
def discover() -> dict[str, Lesson]:
    """Every lesson, by name, in syllabus order (each lesson's ORDER)."""
    found: dict[str, Lesson] = {}
    for info in pkgutil.iter_modules([str(SCENARIOS_DIR)]):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"scenarios.{info.name}")
        if hasattr(module, "NAME"):
            found[module.NAME] = Lesson(module.NAME, module)
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


class UnknownLessonError(KeyError):
    def __str__(self) -> str:
        return f"no lesson named {self.args[0]!r}; known: {', '.join(discover())}"


def get(name: str) -> Lesson:
    try:
        return discover()[name]
    except KeyError:
        raise UnknownLessonError(name) from None
