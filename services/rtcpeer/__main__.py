"""One WebRTC peer: signaling through nginx and the api, a data channel, a JSON report.

    python -m rtcpeer --room R --peer alice --call bob [--relay] [--messages 200]
    python -m rtcpeer --room R --peer bob --answer [--relay]

The caller offers and, once the channel is open, sends --messages pings,
each answered by the other side with a pong: round-trip times, messages
lost, and the ICE candidate pair each side selected (host, srflx, prflx or
relay) are printed as one JSON line. TURN credentials come from the api
(/signal/turn), time-limited. --relay allows relay candidates only.
No STUN server on the internet is ever asked (iceServers names only ours).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import aioice.stun
import aioice.turn
import httpx
import websockets
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

SIGNAL_URL = os.environ.get("RTCPEER_SIGNAL_URL", "ws://proxy:8090/signal/ws")
TURN_URL = os.environ.get("RTCPEER_TURN_URL", "http://proxy:8090/signal/turn")
OPEN_WITHIN_S = 20.0
# How long a caller offers again while the peer it calls has not joined the room.
JOIN_WITHIN_S = 60.0
# A whole run, answering included, ends by then: a peer whose other side never
# calls (a browser that failed to load) must not wait for ever.
RUN_WITHIN_S = 120.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rtcpeer")
    parser.add_argument("--room", required=True)
    parser.add_argument("--peer", required=True)
    role = parser.add_mutually_exclusive_group(required=True)
    role.add_argument("--call", metavar="PEER", help="offer to this peer")
    role.add_argument("--answer", action="store_true", help="wait for an offer")
    role.add_argument(
        "--turn-check",
        choices=("valid", "wrong", "expired"),
        help="only ask the TURN server for a relay with such a credential",
    )
    parser.add_argument("--relay", action="store_true", help="relay candidates only (TURN)")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        help="then send this many 1 KiB messages back to back (throughput)",
    )
    return parser.parse_args()


async def configuration(peer: str, relay: bool) -> RTCConfiguration:
    async with httpx.AsyncClient(timeout=5) as client:
        turn = (await client.get(TURN_URL, params={"peer": peer})).raise_for_status().json()
    servers = [RTCIceServer(turn["urls"][0], turn["username"], turn["credential"])]
    policy = RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def selected_pair(pc: RTCPeerConnection) -> dict[str, Any]:
    """The nominated ICE pair: aiortc has no public API for it; aioice's connection has it."""
    connection = pc.sctp.transport.transport.iceGatherer._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return {}
    local, remote = pair.local_candidate, pair.remote_candidate
    return {"local": {"type": local.type, "address": f"{local.host}:{local.port}"},
            "remote": {"type": remote.type, "address": f"{remote.host}:{remote.port}"}}  # fmt: skip


async def exchange(ws: Any, pc: RTCPeerConnection, args: argparse.Namespace) -> str:
    """Offer/answer through the signaling server (aiortc puts every candidate in the SDP);
    the other peer's id."""
    if args.call:
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "offer", "to": args.call, "sdp": pc.localDescription.sdp}
        answer = await offer_until_answered(ws, offer)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return args.call
    offer = await next_message(ws, "offer")
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = {"type": "answer", "to": offer["from"], "sdp": pc.localDescription.sdp}
    await ws.send(json.dumps(answer))
    return offer["from"]


class NotInRoomError(RuntimeError):
    """Signaling refused a message to a peer that has not joined the room (yet)."""


async def offer_until_answered(ws: Any, offer: dict[str, Any]) -> dict[str, Any]:
    """The answer to `offer`. The answering peer may join after this one (its container
    starts later on a busy machine): while signaling says it is not in the room, offer
    again every half second, for JOIN_WITHIN_S at most."""
    deadline = time.monotonic() + JOIN_WITHIN_S
    while True:
        await ws.send(json.dumps(offer))
        try:
            return await next_message(ws, "answer")
        except NotInRoomError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def next_message(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == kind:
            return message
        if message["type"] == "error":
            reason = message["reason"]
            error = NotInRoomError if reason.startswith("to: no peer") else RuntimeError
            raise error(f"signaling refused a message: {reason}")


async def ping(channel: Any, count: int) -> dict[str, Any]:
    pongs: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    channel.on("message", lambda m: pongs.put_nowait((int(m.split(":")[1]), time.perf_counter())))
    rtts, lost = [], 0
    for n in range(count):
        sent = time.perf_counter()
        channel.send(f"ping:{n}")
        try:
            number, at = await asyncio.wait_for(pongs.get(), 5)
            rtts.append((at - sent) * 1000) if number == n else None
        except TimeoutError:
            lost += 1
    cuts = statistics.quantiles(rtts, n=100) if len(rtts) > 1 else [0.0] * 99
    return {"sent": count, "answered": len(rtts), "lost": lost,
            "rtt_ms": {"p50": round(cuts[49], 3), "p99": round(cuts[98], 3)}}  # fmt: skip


async def turn_check(peer: str, kind: str) -> dict[str, Any]:
    """One TURN Allocate with a valid, a wrong or an expired credential: granted or refused."""
    async with httpx.AsyncClient(timeout=5) as client:
        turn = (await client.get(TURN_URL, params={"peer": peer})).raise_for_status().json()
    username, password = turn["username"], turn["credential"]
    if kind == "wrong":
        password = "not-" + password
    if kind == "expired":  # signed correctly by the api, but for a moment already past
        expired = await client_expired(peer)
        username, password = expired["username"], expired["credential"]
    host = turn["urls"][0].split(":")[1].split("?")[0]
    try:
        transport, _ = await asyncio.wait_for(aioice.turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (host, 3478), username, password), 10)  # fmt: skip
    except aioice.stun.TransactionFailed as exc:
        return {"credential": kind, "allocated": False, "error": str(exc)}
    relayed = transport.get_extra_info("sockname")
    transport.close()
    return {"credential": kind, "allocated": True, "relayed_address": f"{relayed[0]}:{relayed[1]}"}


async def client_expired(peer: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(TURN_URL, params={"peer": peer, "ttl": -60})
        return response.raise_for_status().json()


def answer_message(channel: Any, message: str, counted: dict[str, int]) -> None:
    """Pings get a pong; burst messages are counted, and the end marker is acknowledged."""
    if message.startswith("ping:"):
        channel.send(message.replace("ping", "pong"))
    elif message.startswith("burst:"):
        counted["burst"] += 1
    elif message == "end":
        channel.send(f"ack:{counted['burst']}")


async def burst(channel: Any, count: int) -> dict[str, Any]:
    """count 1 KiB messages back to back, then the end marker: messages/s until it is acked."""
    acked: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    channel.on("message", lambda m: m.startswith("ack:") and not acked.done()
               and acked.set_result(int(m[4:])))  # fmt: skip
    payload = "x" * 1024
    started = time.perf_counter()
    for n in range(count):
        channel.send(f"burst:{n}:{payload}")
        if channel.bufferedAmount > 1 << 20:  # keep at most 1 MiB queued in the channel
            await asyncio.sleep(0.001)
    channel.send("end")
    received = await asyncio.wait_for(acked, 60)
    seconds = time.perf_counter() - started
    return {"sent": count, "received": received, "per_s": round(count / seconds, 1),
            "mib_per_s": round(count / 1024 / seconds, 2)}  # fmt: skip


async def main() -> dict[str, Any]:
    args = arguments()
    if args.turn_check:
        return await turn_check(args.peer, args.turn_check)
    pc = RTCPeerConnection(await configuration(args.peer, args.relay))
    opened = asyncio.Event()
    report: dict[str, Any] = {"peer": args.peer, "relay_only": args.relay}
    async with websockets.connect(f"{SIGNAL_URL}?room={args.room}&peer={args.peer}") as ws:
        joined = json.loads(await ws.recv())
        report["signaling_replica"] = joined.get("served_by")
        if args.call:
            channel = pc.createDataChannel("chat", ordered=True)
            channel.on("open", opened.set)
        else:
            holder: dict[str, Any] = {}
            counted = {"burst": 0}

            @pc.on("datachannel")
            def on_channel(channel: Any) -> None:
                holder["channel"] = channel
                channel.on("message", lambda m: answer_message(channel, m, counted))
                opened.set()

        started = time.perf_counter()
        other = await exchange(ws, pc, args)
        await asyncio.wait_for(opened.wait(), OPEN_WITHIN_S)
        report["open_ms"] = round((time.perf_counter() - started) * 1000, 1)
        report["pair"] = selected_pair(pc)
        if args.call:
            report["data"] = await ping(channel, args.messages)
            if args.burst:
                report["burst"] = await burst(channel, args.burst)
            await ws.send(json.dumps({"type": "bye", "to": other}))
        else:
            await next_message(ws, "bye")
    await pc.close()
    return report


async def bounded() -> dict[str, Any]:
    """main(), given up after RUN_WITHIN_S with TimeoutError (the process exits non-zero)."""
    return await asyncio.wait_for(main(), RUN_WITHIN_S)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(bounded())))
