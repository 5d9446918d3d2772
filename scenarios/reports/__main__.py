"""`python -m scenarios.reports [--all]` (`make report`): rebuild results/index.html from the
results/*/result.json files (--all: every report too) and print where it is.

`python -m scenarios.reports figures [LESSON...] [--from DIR]` (`make figures`): the lessons'
pages' charts of a real run (scenarios/reports/figures.py)."""

from __future__ import annotations

import sys

from scenarios import lessons
from scenarios.reports import figures, results_root, write_index, write_report


def main(argv: list[str]) -> int:
    root = results_root()
    if argv[:1] == ["figures"]:
        return figures.main(argv[1:], root)
    if "--all" in argv:
        for name in lessons.discover():
            if (root / name / "result.json").is_file():
                print(f"report: {write_report(name).resolve().as_uri()}")
    print(f"index: {write_index().resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
