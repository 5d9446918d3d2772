"""`python -m scenarios list` and `python -m scenarios run NAME [--json]`."""

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape

from comms_sandbox.health import SandboxNotUpError
from scenarios import lessons
from scenarios.result import run_once

app = typer.Typer(add_completion=False, help="Run the sandbox's communication-pattern scenarios.")
console = Console()


@app.command("list")
def list_scenarios() -> None:
    """List the lessons' scenarios and what each shows."""
    for name, lesson in lessons.discover().items():
        console.print(f"[bold]{name}[/]  {lesson.summary}")


@app.command()
def run(
    name: str = typer.Argument(..., help="A scenario name from `list`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Run one scenario against the running sandbox; exit 1 when a check failed.

    A check the run could not judge (not shown, with its reason) is printed
    and recorded in the JSON's `not_shown`, and fails nothing.
    """
    try:
        module = lessons.get(name).module
    except lessons.UnknownLessonError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    try:
        result = run_once(name, module.run)
    except SandboxNotUpError as exc:
        console.print(f"[bold red]Cannot run {name}:[/] {exc}")
        raise typer.Exit(3) from exc
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        console.rule(f"[bold]{name}")
        module.render(result, console)
        print_not_shown(result.not_shown)
        console.print(f"[bold {'green' if result.ok else 'red'}]ok: {result.ok}[/]")
    raise typer.Exit(0 if result.ok else 1)


def print_not_shown(reasons: dict[str, str]) -> None:
    """The checks this run could not judge, each with why: neither held nor failed.

    They leave `ok` and the exit code to the checks that were judged (0 when
    none failed); run again on a quieter machine to see them.
    """
    for check, reason in reasons.items():
        console.print(f"[yellow]not shown[/]: {escape(check)}: {escape(reason)}")


if __name__ == "__main__":
    sys.exit(app())
