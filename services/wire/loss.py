"""Packet loss and head-of-line blocking: the same streams over one HTTP/2 connection and
over HTTP/3, with and without loss.

    python -m wire.loss --host proxy --port 8443 --ca /etc/sandbox-tls/ca.pem \\
        --loss 0.02 --rtt-ms 40 --streams 6 --size 163840 --chunk 1024 --every-ms 20

It runs in a container of its own (uid 0 with NET_ADMIN and NET_RAW alone, its own network
namespace: its rules touch no other container and vanish with it) and sets,
with iptables (legacy: the nf_tables backend would need the kernel's nft queue
expression, which this one lacks):
- INPUT: drop a share `loss` of the packets that come from the server's port,
  TCP and UDP, at random (the statistic match): lost on the way in, as on a
  real path, so the server is told nothing and must find out and send again;
- OUTPUT: every packet to the server's port goes through NFQUEUE to a delay line
  (nfqueue.py) that holds it `rtt_ms`: without netem, that is what gives the path
  a round trip, and so gives a lost packet its cost.

Then STREAMS GETs of /wire/bytes at once on one HTTP/2 connection, and the same
on one HTTP/3 connection, first with the delay alone, then with the loss too.
The api stamps each write with its CLOCK_MONOTONIC, which this container shares
(one kernel), so each write's one-way delay is measured, not guessed. Prints one
JSON line: per run and protocol, each stream's writes as [sent ms, delay ms],
the packets each drop rule dropped and the delay line held, the rules left after
removing them (none, or the run says so), and the protocol each connection spoke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import subprocess
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, ResponseReceived, StreamEnded, StreamReset
from h2.events import DataReceived as H2DataReceived

from wire.nfqueue import DelayLine

IPTABLES = "iptables-legacy"
QUEUE = 7
PATH = "/wire/bytes"
STAMP_BYTES = 8  # services/api/routes/wire.py: each write starts with its CLOCK_MONOTONIC
TIMEOUT_S = 60.0
H2_WINDOW = 16 * 1024 * 1024
PROTOCOLS = {"6": "tcp", "17": "udp", "tcp": "tcp", "udp": "udp"}
Writes = list[list[float]]  # one stream's writes: [sent ms from the run's start, delay ms]


def iptables(*args: str) -> str:
    done = subprocess.run([IPTABLES, "-w", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{IPTABLES} {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def rules(port: int, loss: float) -> list[tuple[str, ...]]:
    """The rules, each as the arguments after -A/-D: the delay for what goes to `port`,
    and, with `loss`, the drop for what comes from it."""
    delay = [("OUTPUT", "-p", p, "--dport", str(port), "-j", "NFQUEUE",
              "--queue-num", str(QUEUE), "--queue-bypass") for p in ("tcp", "udp")]  # fmt: skip
    drop = [("INPUT", "-p", p, "--sport", str(port), "-m", "statistic", "--mode", "random",
             "--probability", f"{loss:.4f}", "-j", "DROP") for p in ("tcp", "udp")]  # fmt: skip
    return delay + (drop if loss > 0 else [])


def dropped() -> dict[str, int]:
    """Packets each protocol's DROP rule dropped (`iptables -L INPUT -v -x`)."""
    counts = {"tcp": 0, "udp": 0}
    for line in iptables("-L", "INPUT", "-n", "-v", "-x").splitlines():
        fields = line.split()  # pkts bytes target prot ...; -n gives prot as a number
        if len(fields) > 3 and fields[2] == "DROP" and fields[3] in PROTOCOLS:
            counts[PROTOCOLS[fields[3]]] += int(fields[0])
    return counts


def rules_left() -> int:
    """Rules still in the filter table (`iptables -S`: one `-A` line each)."""
    return sum(line.startswith("-A") for line in iptables("-S").splitlines())


def writes_of(body: bytes, arrivals: list[tuple[int, int]], chunk: int, t0: int) -> Writes:
    """Each write's [sent ms, delay ms]: its stamp is the first 8 bytes of each `chunk`,
    and it arrived with the first piece that completed those 8 bytes."""
    found, piece = [], 0
    for start in range(0, len(body) - STAMP_BYTES + 1, chunk):
        while arrivals[piece][1] < start + STAMP_BYTES:
            piece += 1
        sent = int.from_bytes(body[start : start + STAMP_BYTES], "big")
        found.append([round((sent - t0) / 1e6, 2), round((arrivals[piece][0] - sent) / 1e6, 2)])
    return found


async def h2_streams(args: argparse.Namespace, tls: ssl.SSLContext) -> dict[str, Any]:
    """STREAMS GETs at once on one HTTP/2 connection (the h2 state machine over asyncio's
    TLS stream): each DATA frame is timed when the connection reads it, whichever stream it
    belongs to, so no stream waits for another's reader."""
    tls.set_alpn_protocols(["h2"])
    reader, writer = await asyncio.open_connection(args.host, args.port, ssl=tls)
    protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    connection = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    connection.initiate_connection()
    connection.increment_flow_control_window(H2_WINDOW)  # the connection's, past 64 KiB
    try:
        # One small GET first: the connection and TLS are set up before the clock starts.
        await h2_gets(connection, reader, writer, [path_for(args, STAMP_BYTES)], args)
        t0 = time.monotonic_ns()
        got = await h2_gets(connection, reader, writer, [path_for(args)] * args.streams, args)
    finally:
        writer.close()
    streams = [writes_of(body, arrivals, args.chunk, t0) for body, arrivals in got]
    return {"protocol": "HTTP/2" if protocol == "h2" else str(protocol), "streams": streams}


def path_for(args: argparse.Namespace, size: int | None = None) -> str:
    """/wire/bytes with the run's settings (`size`: a body of that size instead)."""
    return f"{PATH}?{urlencode(query(args) | ({'size': size} if size else {}))}"


async def h2_gets(
    connection: H2Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    paths: list[str],
    args: argparse.Namespace,
) -> list[tuple[bytes, list[tuple[int, int]]]]:
    """GET each path on its own stream at once; each body with its (time, bytes so far)."""
    authority = f"{args.host}:{args.port}"
    streams = {}
    for path in paths:
        stream = connection.get_next_available_stream_id()
        connection.send_headers(stream, [(":method", "GET"), (":scheme", "https"),
                                         (":authority", authority), (":path", path)],
                                end_stream=True)  # fmt: skip
        streams[stream] = (bytearray(), [])
    open_streams = set(streams)
    while open_streams:
        writer.write(connection.data_to_send())
        data = await asyncio.wait_for(reader.read(1 << 16), TIMEOUT_S)
        if not data:
            raise ConnectionError("the server closed the HTTP/2 connection")
        now = time.monotonic_ns()
        for event in connection.receive_data(data):
            h2_event(connection, event, streams, open_streams, now)
    writer.write(connection.data_to_send())
    return [(bytes(body), arrivals) for body, arrivals in streams.values()]


def h2_event(connection: H2Connection, event: Any, streams: dict[int, Any],
             open_streams: set[int], now: int) -> None:  # fmt: skip
    stream = getattr(event, "stream_id", None)
    if isinstance(event, ResponseReceived) and dict(event.headers).get(":status") != "200":
        raise RuntimeError(f"HTTP/2 status {dict(event.headers).get(':status')}")
    if isinstance(event, StreamReset | ConnectionTerminated):
        raise ConnectionError(f"HTTP/2: {event}")
    if isinstance(event, H2DataReceived) and stream in streams:
        body, arrivals = streams[stream]
        body += event.data
        arrivals.append((now, len(body)))
        connection.acknowledge_received_data(event.flow_controlled_length, stream)
    if isinstance(event, StreamEnded):
        open_streams.discard(stream)


class H3Client(QuicConnectionProtocol):
    """HTTP/3 GETs on one QUIC connection, each body's pieces timed as they are handed over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.bodies: dict[int, bytearray] = {}
        self.arrivals: dict[int, list[tuple[int, int]]] = {}
        self.done: dict[int, asyncio.Future[int]] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        stream = getattr(event, "stream_id", None)
        if stream not in self.done:
            return
        if isinstance(event, HeadersReceived):
            status = dict(event.headers).get(b":status", b"0")
            if status != b"200":
                self.done[stream].set_exception(RuntimeError(f"HTTP/3 status {status!r}"))
        elif isinstance(event, DataReceived) and event.data:
            self.bodies[stream] += event.data
            self.arrivals[stream].append((time.monotonic_ns(), len(self.bodies[stream])))
        if getattr(event, "stream_ended", False) and not self.done[stream].done():
            self.done[stream].set_result(stream)

    async def get(self, authority: str, path: str) -> tuple[bytes, list[tuple[int, int]]]:
        stream = self._quic.get_next_available_stream_id()
        self.bodies[stream], self.arrivals[stream] = bytearray(), []
        self.done[stream] = asyncio.get_running_loop().create_future()
        self.h3.send_headers(stream, [(b":method", b"GET"), (b":scheme", b"https"),
                                      (b":authority", authority.encode()),
                                      (b":path", path.encode())], end_stream=True)  # fmt: skip
        self.transmit()
        await asyncio.wait_for(self.done[stream], TIMEOUT_S)
        return bytes(self.bodies[stream]), self.arrivals[stream]


async def h3_streams(args: argparse.Namespace, tls: ssl.SSLContext) -> dict[str, Any]:
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=args.host)
    config.load_verify_locations(args.ca)
    authority, path = f"{args.host}:{args.port}", path_for(args)
    async with connect(args.host, args.port, configuration=config,
                       create_protocol=H3Client) as client:  # fmt: skip
        assert isinstance(client, H3Client)
        await client.get(authority, path_for(args, STAMP_BYTES))
        t0 = time.monotonic_ns()
        got = await asyncio.gather(*(client.get(authority, path) for _ in range(args.streams)))
        alpn = client._quic.tls.alpn_negotiated
    streams = [writes_of(body, arrivals, args.chunk, t0) for body, arrivals in got]
    return {"protocol": "HTTP/3" if alpn == "h3" else str(alpn), "streams": streams}


def query(args: argparse.Namespace) -> dict[str, int]:
    return {"size": args.size, "chunk": args.chunk, "every_ms": args.every_ms}


Transfer = Callable[[argparse.Namespace, ssl.SSLContext], Any]
TRANSFERS: dict[str, Transfer] = {"HTTP/2": h2_streams, "HTTP/3": h3_streams}


def transfers(args: argparse.Namespace) -> dict[str, Any]:
    tls = ssl.create_default_context(cafile=args.ca)
    return {name: asyncio.run(fetch(args, tls)) for name, fetch in TRANSFERS.items()}


def one_condition(args: argparse.Namespace, loss: float) -> dict[str, Any]:
    """The transfers with the delay line and, with `loss`, the drop rules in place; the
    rules removed afterwards whatever happens."""
    added: list[tuple[str, ...]] = []
    try:
        with DelayLine(QUEUE, args.rtt_ms / 1000) as line:
            for rule in rules(args.port, loss):
                iptables("-A", *rule)
                added.append(rule)
            runs = transfers(args)
            counts = dropped()
        return {"loss": loss, "runs": runs, "dropped": counts, "delayed": line.delayed}
    finally:
        for rule in added:
            iptables("-D", *rule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="proxy")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--ca", default="/etc/sandbox-tls/ca.pem")
    parser.add_argument("--loss", type=float, default=0.02)
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--streams", type=int, default=6)
    parser.add_argument("--size", type=int, default=160 * 1024)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--every-ms", type=int, default=20)
    args = parser.parse_args()
    if not (0 <= args.loss < 0.5 and 0 < args.rtt_ms <= 500 and 1 <= args.streams <= 32
            and STAMP_BYTES <= args.chunk <= args.size):  # fmt: skip
        parser.error("out of range: 0 <= loss < 0.5, 0 < rtt-ms <= 500, 1-32 streams, "
                     "8 <= chunk <= size")  # fmt: skip
    conditions = {"without loss": one_condition(args, 0.0),
                  "with loss": one_condition(args, args.loss)}  # fmt: skip
    print(json.dumps({"conditions": conditions, "rules_left": rules_left(),
                      "settings": vars(args)}))  # fmt: skip


if __name__ == "__main__":
    main()
