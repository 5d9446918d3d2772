"""`python -m bench` (`make bench`): run the benchmarks, print tables, save results/bench-*.json."""

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import startup
from scripts.stack import REPO

RESULTS = REPO / "results"
console = Console()


def startup_tables(result: dict[str, Any]) -> list[Table]:
    summary = Table(title="start-up and idle memory (images already built)")
    for column in ("measure", "measured", "target", "measured / target"):
        summary.add_column(column, justify="right")
    summary.add_row(
        "up -> all healthy (s)",
        f"{result['up_to_all_healthy_s']:.1f}",
        f"{result['target_healthy_s']:.0f}",
        f"{result['healthy_vs_target']:.2f}",
    )
    summary.add_row(
        "idle memory, whole stack (MiB)",
        f"{result['idle_memory_total_mib']:.0f}",
        f"{result['target_idle_memory_mib']:.0f}",
        f"{result['memory_vs_target']:.2f}",
    )
    detail = Table(title="per container")
    for column in ("container", "healthy after (s)", "idle memory (MiB)"):
        detail.add_column(column, justify="right")
    for name, mib in sorted(result["idle_memory_mib"].items()):
        detail.add_row(name, str(result["healthy_at_s"].get(name, "-")), f"{mib:.1f}")
    return [summary, detail]


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def main() -> int:
    result = startup.run()
    for table in startup_tables(result):
        console.print(table)
    console.print(f"saved {save('startup', result).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
