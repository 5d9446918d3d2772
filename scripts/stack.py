"""Start, stop and look at the sandbox: what `make up`, `down`, `ps` and `logs` run.

`make up` starts every service; `make up LESSON=<name>` starts only what that
lesson needs (its SERVICES and, by Compose, their dependencies). Either way
tracing is on exactly when the observability lesson's services run after it
(comms_sandbox.compose.tracing_env; `SANDBOX_TRACING=on make up` forces it).
"""

import os
import socket
import sys
import time

import typer
from rich.console import Console
from rich.table import Table

from comms_sandbox import config, ports
from comms_sandbox.certs import ensure_certificates
from comms_sandbox.compose import (
    TEST_LANE_VARIABLE,
    all_healthy,
    build_images,
    compose,
    compose_ps,
    import_rabbitmq_definitions,
    let_proxy_follow,
    profile_flags,
    profile_services,
    recovered_after_restarts,
    remove_cut_recreations,
    running_services,
    switch_tracing_for,
    tracing_env,
    tracing_follows,
    with_dependencies,
)
from comms_sandbox.credentials import ensure_credentials, setting
from comms_sandbox.images import ensure_images
from scenarios import lessons

WAIT_TIMEOUT_S = 240

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


def published_by_stack() -> set[int]:
    """Host ports our own running containers already hold (they are not 'taken')."""
    try:
        containers = compose_ps()
    except FileNotFoundError:  # no docker client: nothing of ours can be running
        return set()
    publishers = (p for c in containers for p in c.get("Publishers") or [])
    return {p["PublishedPort"] for p in publishers if p["PublishedPort"]}  # 0: not published


def port_is_free(port: int, protocol: str = "tcp") -> bool:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ports.HOST, port))
        except OSError:
            return False
    return True


def taken_ports(services: set[str] | None = None) -> list[ports.PublishedPort]:
    """Ports that `services` (default: all) would publish but something else holds."""
    ours = published_by_stack()
    wanted = [p for p in ports.PUBLISHED_PORTS if services is None or p.service in services]
    return [p for p in wanted if p.port not in ours and not port_is_free(p.port, p.protocol)]


def endpoint_rows(services: set[str]) -> list[tuple[str, str]]:
    """Where to look, for the services that run."""
    host = ports.HOST
    by_service = {
        "proxy": [
            ("proxy (HTTPS entry point)", config.proxy_url()),
            ("API docs (through the proxy)", f"{config.proxy_url()}/docs"),
            ("plain HTTP", f"{config.proxy_http_url()} (308 to HTTPS, but health checks)"),
            ("local CA (trust it for HTTPS)", str(config.ca_cert())),
            ("which replica answers?", f"curl -i --cacert {config.ca_cert()} "
                                       f"{config.proxy_url()}/whoami"),
            ("gRPC (pricing, through nginx)", f"{host}:{ports.PROXY_TLS.port} (TLS, h2)"),
        ],
        "inventory": [
            ("inventory, behind its sidecar",
             f"http://{host}:{ports.INVENTORY.port} "
             f"(X-API-Key: {setting('INVENTORY_API_KEY')})"),
        ],
        "inventory-metrics": [
            ("  its adapter's metrics", f"http://{host}:{ports.INVENTORY_METRICS.port}/metrics"),
        ],
        "rabbitmq": [
            ("RabbitMQ management UI", config.rabbitmq_ui_url()),
            ("  login", f"{config.RABBITMQ_ADMIN_USER} / {config.RABBITMQ_ADMIN_PASSWORD}"),
            ("RabbitMQ AMQP (app user)", config.amqp_url()),
        ],
        "kafka": [("Kafka bootstrap (host)", config.kafka_bootstrap())],
    }  # fmt: skip
    return [row for service, rows in by_service.items() if service in services for row in rows]


def print_endpoints(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("where", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def explain_failure() -> None:
    compose("ps", "--all")
    console.print("[bold red]Some services did not become healthy.[/] Their last log lines:")
    compose("logs", "--tail=30")


def in_test_lane() -> bool:
    """Run by a test in one of tests/lanes.py's two lanes: the lanes' runner started the
    default stack, and the other lane is using it (re-creating, scaling) right now."""
    return bool(os.environ.get(TEST_LANE_VARIABLE))


def start_own(own: list[str], build: bool) -> float:
    """Only a lesson's own (profile) services, `--no-deps`: the default services they
    need run already (or, in a test lane, belong to the other lane). No image is built
    in a test lane: a rebuilt shared image would make the next `up` re-create the
    default services under the other lane."""
    started = time.monotonic()
    if own:
        ensure_credentials()  # a lesson's own secrets may be new since the stack started
        ensure_certificates()  # and its certificates (the short-lived ones renewed)
        import_rabbitmq_definitions()
        ensure_images(own)
        # The observability lesson's own services trace, and turn tracing on for the
        # running api and pricing (re-created first, without nginx).
        tracing = switch_tracing_for(own)
        if build:
            build_images(own)
        result = compose(*profile_flags(own), "up", "--detach", "--no-deps", "--no-build", "--wait",
                         f"--wait-timeout={WAIT_TIMEOUT_S}", *own, env=tracing)  # fmt: skip
        if result.returncode != 0 and not recovered_after_restarts(own):
            explain_failure()
            raise typer.Exit(result.returncode)
        let_proxy_follow(own)
    console.print(f"\\[up] the default stack runs: started only {', '.join(own) or 'nothing'}")
    return time.monotonic() - started


def start(services: list[str]) -> float:
    """`compose up --wait` of `services` (all when empty); seconds until all were healthy.

    A lesson whose services all run healthy already is left as it runs: `up` would
    also bring what they depend on back to compose.yaml's model (replicas, the
    tracing switch, a rebuilt image), under whatever else is using the stack now
    (a lesson's tests, the other test lane). `make up` rebuilds and re-creates.
    Unless tracing is not yet as the lesson wants it (the observability lesson's
    services started by hand): then it is switched."""
    if services and all_healthy(services) and tracing_follows(services):
        console.print(f"\\[up] {', '.join(services)}: already running and healthy, left as they "
                      "are (`make up` rebuilds and re-creates what changed)")  # fmt: skip
        return 0.0
    needed = with_dependencies(services)
    own = profile_services(needed)
    if services and (in_test_lane() or all_healthy(sorted(set(needed) - set(own)))):
        return start_own(own, build=not in_test_lane())
    started = time.monotonic()
    ensure_certificates()
    ensure_credentials()
    import_rabbitmq_definitions()  # a running broker learns users added since it booted
    ensure_images(with_dependencies(services))  # only what these services run
    build_images(with_dependencies(services))  # each image once, before `up --no-build`
    images_s = time.monotonic() - started
    stale = remove_cut_recreations()
    if stale:
        console.print(f"\\[up] removed what an interrupted `up` left behind: {', '.join(stale)}")
    # A lesson's services may sit behind its profile (observability): enable it.
    profiles = profile_flags(services) if services else []
    # On when the observability lesson runs afterwards (started now or already up);
    # a changed value makes Compose re-create the api and pricing.
    tracing = tracing_env(with_dependencies(services) | running_services())
    result = compose(
        *profiles, "up", "--detach", "--no-build", "--wait", f"--wait-timeout={WAIT_TIMEOUT_S}",
        *services, env=tracing,
    )  # fmt: skip
    if result.returncode != 0 and not recovered_after_restarts(services):
        explain_failure()
        raise typer.Exit(result.returncode)
    if profiles:
        let_proxy_follow(services)  # nginx finds the lesson's services at once
    seconds = time.monotonic() - started
    # Where a first start spends its time: images (pulled, or built from Debian's
    # packages, then the services' own), then waiting for health.
    console.print(f"\\[up] images ready and built in {images_s:.0f} s; services healthy in "
                  f"{seconds - images_s:.0f} s")  # fmt: skip
    return seconds


@app.command()
def up(
    lesson: str = typer.Option("", help="Start only this lesson's services (a name from "
                               "`python -m scenarios list`); empty: everything."),
) -> None:  # fmt: skip
    """Start the sandbox (or one lesson's part of it) and wait until it is healthy."""
    chosen = lessons.get(lesson) if lesson else None
    services = with_dependencies(chosen.services) if chosen else None
    if taken := taken_ports(services):
        for p in taken:
            console.print(
                f"[bold red]Port {p.port} is taken[/] ({p.service}: {p.purpose}). "
                f"Free it, or choose another with {p.variable}=<port> make up"
            )
        raise typer.Exit(1)
    seconds = start(sorted(chosen.services) if chosen else [])
    if chosen is None:
        rows = endpoint_rows(with_dependencies(()))
        rows.append(("run a scenario", ".venv/bin/python -m scenarios run request-response"))
        rows.append(("every lesson", ".venv/bin/python -m scenarios list"))
        print_endpoints(f"comms-sandbox is up: all services healthy in {seconds:.1f} s", rows)
        return
    rows = [*endpoint_rows(services or set()), *chosen.where()]
    rows.append(("run the scenario", f".venv/bin/python -m scenarios run {chosen.name}"))
    rows.append(("read the lesson", str(chosen.page.relative_to(config.REPO))))
    print_endpoints(
        f"lesson {chosen.name} is up: {', '.join(sorted(services or ()))} "
        f"healthy in {seconds:.1f} s",
        rows,
    )


@app.command()
def images(
    lesson: str = typer.Option("", help="This lesson's images too; empty: the default stack's."),
) -> None:
    """Pull or build the images the default stack runs, and one lesson's, nothing more.
    The stack's always: a test session starts the whole default stack before any lesson."""
    chosen = lessons.get(lesson).services if lesson else ()
    ensure_images(with_dependencies(()) | with_dependencies(chosen))


@app.command()
def down() -> None:
    """Stop and remove the containers, those of every profile too (volumes are kept)."""
    raise typer.Exit(compose(*profile_flags(), "down", "--remove-orphans").returncode)


@app.command("compose", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compose_passthrough(ctx: typer.Context) -> None:
    """Run any `docker compose` command with the sandbox's image choice."""
    raise typer.Exit(compose(*ctx.args).returncode)


if __name__ == "__main__":
    sys.exit(app())
