"""Start, stop and look at the sandbox: what `make up`, `down`, `ps` and `logs` run."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from proxy.certs import ensure_certificates
from scenarios import config

REPO = Path(__file__).resolve().parent.parent
IMAGES_ENV = REPO / ".sandbox" / "images.env"
WAIT_TIMEOUT_S = 240

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def compose_env() -> dict[str, str]:
    """The process environment plus the chosen images; what the user set explicitly wins."""
    return read_env_file(IMAGES_ENV) | dict(os.environ)


def compose(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", *args],
        cwd=REPO,
        env=compose_env(),
        text=True,
        capture_output=capture,
        check=False,
    )


def compose_ps(*flags: str) -> list[dict[str, Any]]:
    """`docker compose ps` as dicts. Compose prints one JSON object per line
    (newer releases) or one JSON list (older ones): accept both."""
    result = compose("ps", *flags, "--format", "json", capture=True)
    containers: list[dict[str, Any]] = []
    for line in result.stdout.splitlines():
        parsed = json.loads(line)
        containers += parsed if isinstance(parsed, list) else [parsed]
    return containers


def published_by_stack() -> set[int]:
    """Host ports our own running containers already hold (they are not 'taken')."""
    try:
        containers = compose_ps()
    except FileNotFoundError:  # no docker client: nothing of ours can be running
        return set()
    publishers = (p for c in containers for p in c.get("Publishers") or [])
    return {p["PublishedPort"] for p in publishers if p["PublishedPort"]}  # 0: not published


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((config.HOST, port))
        except OSError:
            return False
    return True


def taken_ports() -> list[config.PublishedPort]:
    ours = published_by_stack()
    return [p for p in config.PUBLISHED_PORTS if p.port not in ours and not port_is_free(p.port)]


def print_endpoints(seconds: float) -> None:
    table = Table(title=f"comms-sandbox is up: all services healthy in {seconds:.1f} s")
    table.add_column("what")
    table.add_column("where", overflow="fold")
    rows = [
        ("proxy (HTTPS entry point)", config.proxy_url()),
        ("API docs (through the proxy)", f"{config.proxy_url()}/docs"),
        ("plain HTTP", f"{config.proxy_http_url()} (308 to HTTPS, but health checks)"),
        ("local CA (trust it for HTTPS)", str(config.ca_cert())),
        (
            "which replica answers?",
            f"curl -i --cacert {config.ca_cert()} {config.proxy_url()}/whoami",
        ),
        ("gRPC (pricing, through nginx)", f"{config.HOST}:{config.PROXY_TLS.port} (TLS, h2)"),
        (
            "inventory, behind its sidecar",
            f"http://{config.HOST}:{config.INVENTORY.port} (X-API-Key: sandbox-inventory-key)",
        ),
        (
            "  its adapter's metrics",
            f"http://{config.HOST}:{config.INVENTORY_METRICS.port}/metrics",
        ),
        ("RabbitMQ management UI", config.rabbitmq_ui_url()),
        ("  login", f"{config.RABBITMQ_ADMIN_USER} / {config.RABBITMQ_ADMIN_PASSWORD}"),
        ("RabbitMQ AMQP (app user)", config.amqp_url()),
        ("Kafka bootstrap (host)", config.kafka_bootstrap()),
        ("run a scenario", ".venv/bin/python -m scenarios run request-response"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


def explain_failure() -> None:
    compose("ps", "--all")
    console.print("[bold red]Some services did not become healthy.[/] Their last log lines:")
    compose("logs", "--tail=30")


@app.command()
def up() -> None:
    """Start every service and wait until all are healthy."""
    if taken := taken_ports():
        for p in taken:
            console.print(
                f"[bold red]Port {p.port} is taken[/] ({p.service}: {p.purpose}). "
                f"Free it, or choose another with {p.variable}=<port> make up"
            )
        raise typer.Exit(1)
    started = time.monotonic()
    ensure_certificates()
    result = compose("up", "--detach", "--build", "--wait", f"--wait-timeout={WAIT_TIMEOUT_S}")
    if result.returncode != 0:
        explain_failure()
        raise typer.Exit(result.returncode)
    print_endpoints(time.monotonic() - started)


@app.command()
def down() -> None:
    """Stop and remove the containers (volumes are kept)."""
    raise typer.Exit(compose("down", "--remove-orphans").returncode)


@app.command("compose", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compose_passthrough(ctx: typer.Context) -> None:
    """Run any `docker compose` command with the sandbox's image choice."""
    raise typer.Exit(compose(*ctx.args).returncode)


if __name__ == "__main__":
    sys.exit(app())
