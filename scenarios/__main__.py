"""`python -m scenarios list`, `run NAME [--json] [--capture]`, `capture SERVICE` and
`files NAME [--write]`."""

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import typer
from rich.console import Console
from rich.markup import escape

from comms_sandbox.capture import CaptureError, inside, keylog_for, read_args, tshark
from comms_sandbox.health import SandboxNotUpError
from comms_sandbox.protos import StubsNotReadyError
from scenarios import lessons, narration, reports
from scenarios.capture import capture_for, draw_first_ladders, lesson_capture
from scenarios.result import run_once, shared_run_times

app = typer.Typer(add_completion=False, help="Run the sandbox's communication-pattern scenarios.")
console = Console()


def lesson_or_exit(name: str) -> lessons.Lesson:
    """The lesson called `name`, or exit 2 naming the known ones."""
    try:
        return lessons.get(name)
    except lessons.UnknownLessonError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@app.command("list")
def list_scenarios() -> None:
    """List the lessons' scenarios and what each shows."""
    for name, lesson in lessons.discover().items():
        console.print(f"[bold]{name}[/]  {lesson.summary}")


@app.command()
def run(
    name: str = typer.Argument(..., help="A scenario name from `list`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    quiet: bool = typer.Option(False, "--quiet", help="No narration on stderr while it runs."),
    capture: bool = typer.Option(
        False, "--capture", help="Record its packets and TLS keys into results/NAME/capture/."
    ),
) -> None:
    """Run one scenario against the running sandbox; exit 1 when a check failed.

    A check the run could not judge (not shown, with its reason) is printed
    and recorded in the JSON's `not_shown`, and fails nothing. While it runs,
    it narrates on stderr what it does (`--quiet`: not).
    """
    started = time.time()
    with narration.use(narration.choose(quiet)):  # importing every lesson takes a second
        narration.step(f"scenarios run {name}: loading the lessons")
    lesson = lesson_or_exit(name)
    module = lesson.module
    try:
        # What it does, live, on stderr (a terminal) or as lines (a log); stopped before
        # the tables or the JSON are printed.
        with narration.use(narration.choose(quiet)), captured(name, module, capture):
            result = run_once(name, module.run, about=lesson.summary)
    except SandboxNotUpError as exc:
        console.print(f"[bold red]Cannot run {name}:[/] {exc}")
        raise typer.Exit(3) from exc
    # results/<name>/, from the JSON; timed as the run (a test session's, if reused).
    started, finished = shared_run_times(name) or (started, None)
    # Charts take seconds to draw (matplotlib's import most of them): told as a wait,
    # and before the tables, whose own charts then draw in under a second.
    with (
        narration.use(narration.choose(quiet)),
        narration.waiting(f"the report and its charts: results/{name}/", expected_s=3),
    ):
        report = reports.record(name, result.to_json(), started, finished=finished)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        console.rule(f"[bold]{name}")
        module.render(result, console)
        print_not_shown(result.not_shown)
        console.print(f"[bold {'green' if result.ok else 'red'}]ok: {result.ok}[/]")
    print(f"report: {report.resolve().as_uri()}", file=sys.stderr)  # stdout: --json's alone
    raise typer.Exit(0 if result.ok else 1)


@contextmanager
def captured(name: str, module: ModuleType, wanted: bool) -> Iterator[None]:
    """--capture: the lesson's packets while it runs, then ladders of the first connections."""
    if not wanted:
        yield
        return
    with lesson_capture(name, module) as written:
        yield
    with narration.waiting("tshark reading the capture, the ladders drawn", expected_s=5):
        for pcap in written:
            draw_first_ladders(pcap)
    for pcap in written:
        print(f"capture: {pcap} (keys: {pcap.with_name('keys.log')})", file=sys.stderr)


@app.command("capture")
def capture_by_hand(
    service: str = typer.Argument(
        "proxy", help="A compose service: its first container's traffic."
    ),
    seconds: float = typer.Option(10, help="How long to capture (at most 600)."),
) -> None:
    """Capture a service's packets for a while, to explore by hand (`make capture`).

    Run clients meanwhile with SSLKEYLOGFILE=results/captures/keys.log (curl, Python)
    so that Wireshark, or `python -m scenarios tshark`, can decrypt what they sent.
    """
    with narration.use(narration.choose(False)):
        path = capture_for(service, min(seconds, 600))
    console.print(f"capture: {path}")
    console.print(f"read it: python -m scenarios tshark {path} (or open it in Wireshark)")


@app.command("tshark", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})  # fmt: skip
def tshark_on(
    context: typer.Context,
    capture_file: str = typer.Argument(..., help="A capture (its keys.log beside it)."),
) -> None:
    """tshark on a capture, decrypted with the key log beside it; the arguments after the
    file go to tshark (`-Y 'tls.handshake.type == 1'`, `-T fields -e ...`)."""
    pcap = Path(capture_file)
    keylog = keylog_for(pcap.parent)
    try:
        reading = read_args(*inside(pcap, keylog if keylog.exists() else None))
        print(tshark(pcap, [*reading, *context.args]), end="")
    except CaptureError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc


def print_not_shown(reasons: dict[str, str]) -> None:
    """The checks this run could not judge, each with why: neither held nor failed.

    They leave `ok` and the exit code to the checks that were judged (0 when
    none failed); run again on a quieter machine to see them.
    """
    for check, reason in reasons.items():
        console.print(f"[yellow]not shown[/]: {escape(check)}: {escape(reason)}")


@app.command()
def files(
    name: str = typer.Argument(..., help="A lesson name from `list`."),
    write: bool = typer.Option(False, "--write", help="Rewrite the page's `## Files` section."),
) -> None:
    """Print a lesson's files (its page's `## Files` section), or write them into the page."""
    lesson = lesson_or_exit(name)
    if not write:
        print(lessons.files_markdown(lesson), end="")
        return
    lesson.page.write_text(lessons.with_files_section(lesson.page.read_text(), lesson))
    console.print(f"wrote the files of {name} into {lesson.page.relative_to(lessons.REPO)}")


@app.command()
def tests(
    name: str = typer.Argument(..., help="A lesson name from `list`."),
    kind: str = typer.Option("integration", help="unit or integration"),
) -> None:
    """Print the pytest arguments of a lesson's tests (`make test LESSON=<name>` runs them)."""
    lesson = lesson_or_exit(name)
    print(" ".join(lessons.test_arguments(lesson, kind)))


if __name__ == "__main__":
    try:
        sys.exit(app())
    except StubsNotReadyError as exc:  # a lesson imports them; one line, not a traceback
        console.print(f"[bold red]Cannot load the lessons:[/] {exc}")
        sys.exit(2)
