"""`python -m bench [NAME...]` (`make bench`): run benchmarks, print tables, save JSON.

Benchmarks are discovered, by place: a lesson's is bench/<lesson package>.py (NAME and
LESSON are the lesson's name); one that belongs to no lesson (start-up, resilience
across lessons) is in bench/stack/ (LESSON None); bench/support/ holds what they share.
Each has NAME, run() and tables(). With no NAME, all of them, start-up first (it
restarts the stack). Results: results/bench-NAME.json.

Each benchmark starts from the state it names: the default stack up and no
lesson's own services running (they are stopped first, as `make down` stops
them: three Kafka nodes left by another run would skew every figure); it stops
what it started; beside its figures, `context` records what else ran and how
busy the machine was. `make bench` leaves the stack as it found it, as `make
test` does.
"""

import importlib
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from bench.support.machine import context, steal_meter
from comms_sandbox import REPO
from comms_sandbox.compose import compose, profile_flags, profile_services
from comms_sandbox.stack_state import StackState
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
    found = StackState.now()
    try:
        for name in names or benchmarks:
            run_one(name, benchmarks[name])
    finally:
        found.restore()
    return 0


def stop_lesson_services() -> None:
    """Stop every lesson's own services (those behind a profile); the default stack stays."""
    every = profile_services(compose("config", "--services", *profile_flags(), capture=True)
                             .stdout.split())  # fmt: skip
    if every:
        compose(*profile_flags(every), "stop", *every, capture=True)


def start_default_stack() -> None:
    """The default stack up and healthy (quick when it already is)."""
    result = compose("up", "--detach", "--no-build", "--wait", "--wait-timeout=240", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"the default stack did not start:\n{result.stderr}")


def run_one(name: str, module: ModuleType) -> None:
    """One benchmark from its named state, its figures with their context, then saved."""
    stop_lesson_services()
    if module.NAME != "startup":  # start-up times its own `up` from nothing
        start_default_stack()
    machine: dict[str, Any] = {"context": context()}
    try:
        with steal_meter(machine):
            result = module.run()
    finally:
        stop_lesson_services()
    result |= machine
    console.print(f"context: {machine['context']}")
    if "cpu_steal_pct" in machine:
        console.print(
            f"CPU time stolen by the hypervisor during the run: {machine['cpu_steal_pct']}%"
        )
    for table in module.tables(result):
        console.print(table)
    console.print(f"saved {save(name, result).relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
