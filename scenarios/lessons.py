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
and, by the same name, `tests/integration/test_<package>.py` and, if the
lesson has one, a benchmark module in bench/ whose NAME is the lesson's.
"""

from __future__ import annotations

import importlib
import pkgutil
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
