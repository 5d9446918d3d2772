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

While it runs it narrates on stderr, as the scenarios do (scenarios/narration.py; `--quiet`:
not): which benchmark, which set-up and which round, each wait against the seconds expected,
and each target as a verdict. At the end, results/index.html lists the results with the lessons'.
"""

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from bench.support.machine import context, steal_meter
from bench.support.narrate import Verdict, told
from comms_sandbox.compose import compose, profile_flags, profile_services
from comms_sandbox.stack_state import StackState
from scenarios import lessons, narration, reports
from scenarios.reports.run_facts import iso

console = Console()
QUIET = "--quiet"


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
    """results/bench-NAME.json, beside the lessons' runs (SANDBOX_RESULTS moves both)."""
    return reports.write_text(reports.results_root() / f"bench-{name}.json",
                              json.dumps(result, indent=2) + "\n")  # fmt: skip


def main(args: list[str]) -> int:
    """`python -m bench [--quiet] [NAME...]`: the named benchmarks, or all of them."""
    names = [arg for arg in args if arg != QUIET]
    benchmarks = discover()
    unknown = set(names) - set(benchmarks)
    if unknown:
        console.print(f"[red]unknown benchmark(s): {sorted(unknown)}[/]; known: {list(benchmarks)}")
        return 2
    found = StackState.now()
    try:
        with narration.use(narration.choose(QUIET in args)):
            for name in names or benchmarks:
                run_one(name, benchmarks[name])
    finally:
        found.restore()
        index = reports.write_index()  # the benchmarks' results join the lessons' runs
        print(f"index: {index.resolve().as_uri()}", file=sys.stderr)
    return 0


def about(module: ModuleType) -> str:
    """The first line of a benchmark's docstring, and how long it expects to take."""
    first = (module.__doc__ or "").strip().splitlines()[:1]
    expected = getattr(module, "expected_s", None)
    took = f" (expected ~{duration(expected())})" if callable(expected) else ""
    return (first[0] if first else "") + took


def duration(seconds: float) -> str:
    """'45 s' or '17 min'."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def verdicts(module: ModuleType, result: dict[str, Any]) -> list[Verdict]:
    """The targets a benchmark checks (its optional `verdicts(result)`), none otherwise."""
    judge = getattr(module, "verdicts", None)
    return judge(result) if callable(judge) else []


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
    with narration.lesson(name, about(module)):
        prepare(module)
        machine: dict[str, Any] = {"context": context()}
        try:
            with steal_meter(machine):
                result = module.run()
        finally:
            narration.step("stopping the lessons' own services")
            stop_lesson_services()
        result |= machine
        result["verdicts"] = told(verdicts(module, result))
        result["finished"] = iso(time.time())
    console.print(f"context: {machine['context']}")
    if "cpu_steal_pct" in machine:
        console.print(
            f"CPU time stolen by the hypervisor during the run: {machine['cpu_steal_pct']}%"
        )
    for table in module.tables(result):
        console.print(table)
    console.print(f"saved {save(name, result)}")


def prepare(module: ModuleType) -> None:
    """The state a benchmark starts from: no lesson's services; the default stack up."""
    narration.step("stopping the lessons' own services")
    stop_lesson_services()
    if module.NAME != "startup":  # start-up times its own `up` from nothing
        with narration.waiting("the default stack up and healthy"):
            start_default_stack()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
