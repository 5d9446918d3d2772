"""`python -m bench [NAME...]` (`make bench`): run benchmarks, print tables, save JSON.

Benchmarks are discovered, by place: a lesson's is bench/<lesson package>.py (NAME and
LESSON are the lesson's name); one that belongs to no lesson (start-up, resilience
across lessons) is in bench/stack/ (LESSON None); bench/support/ holds what they share.
Each has NAME, run() and tables(). With no NAME, all of them, start-up first (it
restarts the stack). Results: results/bench-NAME.json.
"""

import importlib
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from bench.support.machine import steal_meter
from comms_sandbox import REPO
from scenarios import lessons

RESULTS = REPO / "results"
console = Console()


HERE = Path(__file__).parent
PLACES = {"bench": HERE, "bench.stack": HERE / "stack"}  # lessons' / no lesson's


def benchmark_modules() -> list[ModuleType]:
    """Every module of bench/ and bench/stack/ (not the packages, not this runner)."""
    return [importlib.import_module(f"{package}.{info.name}")
            for package, folder in PLACES.items()
            for info in pkgutil.iter_modules([str(folder)])
            if not info.ispkg and info.name != "__main__"]  # fmt: skip


def discover() -> dict[str, ModuleType]:
    """Every benchmark by NAME: start-up first, then in the order of their lessons."""
    found = {}
    for module in benchmark_modules():
        if all(hasattr(module, attr) for attr in ("NAME", "run", "tables")):
            found[module.NAME] = module
    known = lessons.discover()

    def place(module: ModuleType) -> tuple[bool, int]:
        # Start-up first: it restarts the stack; then in the order of the lessons.
        return module.NAME != "startup", known[module.LESSON].order if module.LESSON else 0

    return dict(sorted(found.items(), key=lambda item: place(item[1])))


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def main(names: list[str]) -> int:
    benchmarks = discover()
    unknown = set(names) - set(benchmarks)
    if unknown:
        console.print(f"[red]unknown benchmark(s): {sorted(unknown)}[/]; known: {list(benchmarks)}")
        return 2
    for name in names or benchmarks:
        module = benchmarks[name]
        machine: dict[str, float] = {}
        with steal_meter(machine):
            result = module.run()
        result |= machine
        if "cpu_steal_pct" in machine:
            console.print(
                f"CPU time stolen by the hypervisor during the run: {machine['cpu_steal_pct']}%"
            )
        for table in module.tables(result):
            console.print(table)
        console.print(f"saved {save(name, result).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
