"""Transport corners, measured by the kernel of the client's own network namespace.

    python -m wire.corners ports --host H --port P [--max N]
    python -m wire.corners fragments --host H --port P --size BYTES [--count N]

ports: connect, send one message, read its answer and close first, again and
again, until connect() fails or N connections were made. The side that closes
first keeps the connection in TIME_WAIT (2 MSL, 60 s on Linux), holding its
local port for that peer; with a narrow ip_local_port_range the connect after
the last free port fails with EADDRNOTAVAIL. Prints the connections made, the
error, the TIME_WAIT sockets (/proc/net/tcp state 06) and the port range.

fragments: send N UDP datagrams of BYTES each; prints how many IP fragments this
kernel made (Ip FragCreates, /proc/net/snmp) and the interface MTU.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import time

from wire.kernel import counter

MAX_CONNECTIONS = 200
MAX_DATAGRAM = 8000
MAX_DATAGRAMS = 50
TIME_WAIT = "06"  # /proc/net/tcp's state of a socket in TIME_WAIT
# The client's close sends FIN and leaves the socket in FIN_WAIT2 until the server's
# FIN arrives; on a busy machine that can lag the client's last connect a little.
SETTLE_S = 10.0
REQUEST = b"GET /x\n\n"  # one message to wire.nagle's server: its answer ends in "\n\n"


def socket_states() -> dict[str, int]:
    """How many TCP sockets of this namespace are in each state (/proc/net/tcp's hex codes)."""
    states: dict[str, int] = {}
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            state = line.split()[3]
            states[state] = states.get(state, 0) + 1
    return states


def time_wait_sockets(expected: int) -> int:
    """TIME_WAIT sockets, once `expected` of them are there or SETTLE_S has passed."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        found = socket_states().get(TIME_WAIT, 0)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def port_range() -> list[int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as text:
        return [int(n) for n in text.read().split()]


def ports(host: str, port: int, most: int) -> dict[str, object]:
    made, failed = 0, None
    for _ in range(min(most, MAX_CONNECTIONS)):
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(REQUEST)
                answer = b""
                while not answer.endswith(b"\n\n"):
                    chunk = sock.recv(1024)
                    if not chunk:
                        break
                    answer += chunk
        except OSError as error:  # the one this measures: EADDRNOTAVAIL
            failed = errno.errorcode.get(error.errno or 0, type(error).__name__)
            break
        made += 1
    in_time_wait = time_wait_sockets(made)
    return {"connections_made": made, "error": failed, "time_wait": in_time_wait,
            "states": socket_states(), "port_range": port_range()}  # fmt: skip


def fragments_made() -> int:
    """IP fragments this kernel has made so far (Ip FragCreates)."""
    return counter("/proc/net/snmp", "Ip", "FragCreates")


def mtu() -> int:
    """The MTU of the container's interface (eth0): the path's, on one Docker network."""
    with open("/sys/class/net/eth0/mtu") as text:
        return int(text.read())


def fragments(host: str, port: int, size: int, count: int) -> dict[str, object]:
    payload = b"\0" * min(size, MAX_DATAGRAM)
    before = fragments_made()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(min(count, MAX_DATAGRAMS)):
            sock.sendto(payload, (host, port))
    return {"size": len(payload), "datagrams": min(count, MAX_DATAGRAMS), "mtu": mtu(),
            "fragments_created": fragments_made() - before}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("ports", "fragments"):
        each = sub.add_parser(mode)
        each.add_argument("--host", required=True)
        each.add_argument("--port", type=int, required=True)
    sub.choices["ports"].add_argument("--max", type=int, default=64)
    sub.choices["fragments"].add_argument("--size", type=int, required=True)
    sub.choices["fragments"].add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    if args.mode == "ports":
        print(json.dumps(ports(args.host, args.port, args.max)))
    else:
        print(json.dumps(fragments(args.host, args.port, args.size, args.count)))


if __name__ == "__main__":
    main()
