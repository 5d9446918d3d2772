"""`python -m scenarios list` and `python -m scenarios run NAME [--json]`."""

import json
import sys
from types import ModuleType

import typer
from rich.console import Console

from scenarios import (
    grpc,
    load_balancing,
    pubsub_compare,
    pubsub_kafka,
    pubsub_rabbitmq,
    request_response,
    sidecar,
    tls_termination,
)
from scenarios.sandbox import SandboxNotUpError

SCENARIOS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        request_response,
        load_balancing,
        tls_termination,
        pubsub_rabbitmq,
        pubsub_kafka,
        pubsub_compare,
        sidecar,
        grpc,
    )
}

app = typer.Typer(add_completion=False, help="Run the sandbox's communication-pattern scenarios.")
console = Console()


@app.command("list")
def list_scenarios() -> None:
    """List the scenarios and what each shows."""
    for name, module in SCENARIOS.items():
        summary = (module.__doc__ or "").strip().splitlines()[0]
        console.print(f"[bold]{name}[/]  {summary}")


@app.command()
def run(
    name: str = typer.Argument(..., help="A scenario name from `list`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Run one scenario against the running sandbox; exit 1 when its property did not hold."""
    module = SCENARIOS.get(name)
    if module is None:
        console.print(f"[red]No scenario named {name!r}.[/] Known: {', '.join(SCENARIOS)}")
        raise typer.Exit(2)
    try:
        result = module.run()
    except SandboxNotUpError as exc:
        console.print(f"[bold red]Cannot run {name}:[/] {exc}")
        raise typer.Exit(3) from exc
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        console.rule(f"[bold]{name}")
        module.render(result, console)
        console.print(f"[bold {'green' if result.ok else 'red'}]ok: {result.ok}[/]")
    raise typer.Exit(0 if result.ok else 1)


if __name__ == "__main__":
    sys.exit(app())
