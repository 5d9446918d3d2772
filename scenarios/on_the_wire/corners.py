"""Transport corners: TIME_WAIT running out ephemeral ports, and UDP datagrams fragmented.

Both measured by the client's own kernel, in the one-shot corners-client container
(services/wire/corners.py), whose network namespace has ten ephemeral ports
(net.ipv4.ip_local_port_range 40000-40009, Compose `sysctls`, that namespace only):
- ports: connections to nagle-server that the client closes first, one after
  another: each leaves a socket in TIME_WAIT holding its port for that server,
  and the connect after the tenth fails with EADDRNOTAVAIL;
- fragments: UDP datagrams of 1200 bytes (QUIC's smallest allowed, RFC 9000
  §14.1) and of 3000 bytes to nagle-server: the kernel's Ip FragCreates counts
  the IP fragments it had to make for a 1500-byte MTU.
"""

from __future__ import annotations

from typing import Any

from scenarios import narration
from scenarios.on_the_wire.tools import run_client

SERVER, PORT, UDP_PORT = "nagle-server", 9101, 9200  # nothing listens on UDP 9200: no matter
PORTS_AVAILABLE = 10  # 40000-40009 (scenarios/on_the_wire/compose.yaml)
SIZES = (1200, 3000)
DATAGRAMS = 10


def client(*args: str) -> dict[str, Any]:
    return run_client("corners-client", *args)


def run() -> dict[str, Any]:
    narration.step(f"connections closed by the client, {PORTS_AVAILABLE} ephemeral ports")
    ports = client("ports", "--host", SERVER, "--port", str(PORT), "--max", "30")
    narration.seen(f"{ports['connections_made']} connections, then {ports['error']}; "
                   f"{ports['time_wait']} sockets in TIME_WAIT")  # fmt: skip
    fragments = {}
    for size in SIZES:
        narration.step(f"{DATAGRAMS} UDP datagrams of {size} bytes")
        fragments[str(size)] = client("fragments", "--host", SERVER, "--port", str(UDP_PORT),
                                      "--size", str(size), "--count", str(DATAGRAMS))  # fmt: skip
    return {"ports": ports, "fragments": fragments, "holds": holds(ports, fragments)}


def holds(ports: dict[str, Any], fragments: dict[str, dict[str, Any]]) -> dict[str, bool]:
    small, large = fragments["1200"], fragments["3000"]
    # ceil(3000 / 1480): the fragments of one datagram whose IP payload is 3008 bytes.
    per_large = -(-(large["size"] + 8) // (large["mtu"] - 20))
    return {
        f"TIME_WAIT held every port: {PORTS_AVAILABLE} connections, then EADDRNOTAVAIL": (
            ports["connections_made"] == PORTS_AVAILABLE and ports["error"] == "EADDRNOTAVAIL"
        ),
        "the kernel lists those sockets in TIME_WAIT": ports["time_wait"] >= PORTS_AVAILABLE,
        "a 1200-byte datagram (QUIC's smallest) leaves whole": small["fragments_created"] == 0,
        f"a 3000-byte datagram leaves as {per_large} fragments": (
            large["fragments_created"] == per_large * large["datagrams"]
        ),
    }
