"""`scenarios run NAME --capture` and `scenarios capture SERVICE`: any lesson's packets.

A lesson names where its traffic is seen in CAPTURE_AT (compose services; the
default stack's proxy if it names none, nothing if it captures by itself). The
capture runs in the first container of each, the clients write their TLS secrets
to results/<lesson>/keys.log, and afterwards the first connections get a ladder
diagram (results/<lesson>/capture/).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType

from comms_sandbox import config, docker
from comms_sandbox.capture import capturing, keylog_for, logging_keys, packets
from scenarios import narration
from scenarios.on_the_wire import connections, ladder

DEFAULT_AT = ("proxy",)
LADDERS = 6  # connections drawn per capture: the first ones, where handshakes are


def capture_points(module: ModuleType) -> tuple[str, ...]:
    """The services whose network namespaces a lesson's capture records."""
    return tuple(getattr(module, "CAPTURE_AT", DEFAULT_AT))


@contextmanager
def lesson_capture(name: str, module: ModuleType) -> Iterator[list[Path]]:
    """Capture the lesson's traffic while inside; the pcapng files it wrote."""
    folder = config.RESULTS_DIR / name / "capture"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with ExitStack() as stack:
        for service in capture_points(module):
            container = docker.containers(service)[0].name
            narration.step(f"capturing in {container}'s network namespace")
            written.append(stack.enter_context(capturing(container, folder / f"{service}.pcapng")))
        stack.enter_context(logging_keys(keylog_for(folder)))
        yield written


def draw_first_ladders(pcap: Path) -> list[Path]:
    """Ladders of the capture's first connections that carried something, beside it."""
    keylog = keylog_for(pcap.parent)
    seen = packets(pcap, keylog if keylog.exists() else None)
    found = [c for c in connections.connections(seen) if any(connections.carries(p)
                                                              for p in c.packets)]  # fmt: skip
    drawn = []
    for index, connection in enumerate(found[:LADDERS], start=1):
        (client, client_port), (server, port) = connection.client, connection.server
        title = f"{pcap.stem}: {connection.transport} {client}:{client_port} -> {server}:{port}"
        drawn.append(ladder.draw(pcap.with_name(f"{pcap.stem}-ladder-{index}.png"), title,
                                 connection))  # fmt: skip
    return drawn


def capture_for(service: str, seconds: float, folder: Path | None = None) -> Path:
    """`make capture`: SECONDS of a service's traffic, by hand; the pcapng's path."""
    folder = folder or config.RESULTS_DIR / "captures"
    container = docker.containers(service)[0].name
    path = folder / f"{service}-{time.strftime('%Y%m%d-%H%M%S')}.pcapng"
    with capturing(container, path), narration.waiting(f"capturing {container}", seconds):
        time.sleep(seconds)
    return path
