"""WebRTC: two peers talk directly after a server introduces them, or through a relay.

The backend only introduces the peers (signaling: offers, answers and ICE
candidates over the api's WebSocket, through nginx, relayed between api
replicas by Redis) and, when the peers cannot reach each other, relays their
packets (TURN, coturn with time-limited credentials). The data then flows
peer to peer over UDP, in a DTLS-encrypted SCTP data channel.

- direct: two Python peers (aiortc) on one network: the selected candidate
  pair is host to host, 0 servers on the data's path.
- relayed: peers on two networks that cannot reach each other: only the
  relay candidates connect, and coturn counts the bytes it carried.
- server path: the same short messages over the WebSocket through nginx,
  an api replica, Redis, an api replica and nginx: round trips compared.
- refusals: malformed signaling (bad JSON, a stranger, an oversized
  candidate) answered with an error and never delivered; TURN refuses a
  wrong and an expired credential (401), grants a valid one.
"""

from __future__ import annotations

import uuid
from typing import Any

from comms_sandbox import docker, webrtc
from comms_sandbox.health import require_lesson_service, require_proxy
from scenarios import narration
from scenarios.result import ScenarioResult, from_parts, percentiles_ms, run_part
from scenarios.webrtc.render import render

NAME = "webrtc"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("turn",)
ORDER = 68  # place in the syllabus: after polling and push (its WebSocket signals)
SERVICES = ("proxy", "turn")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/api/signaling.py",
    "services/api/routes/signaling.py",
    "images/coturn/",
)
MESSAGES = 200
BAD_FRAMES = {
    "not JSON": "{nope",
    "a peer not in the room": '{"type": "offer", "to": "ghost", "sdp": "v=0\\r\\n"}',
    "an oversized candidate": '{"type": "candidate", "to": "listener", "candidate": "candidate:'
    + "x" * 600
    + '"}',
    "not an SDP": '{"type": "answer", "to": "listener", "sdp": "hello"}',
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run"]


def room() -> str:
    return f"r-{uuid.uuid4().hex[:8]}"


# Calls tried for a part before its pair is judged: aioice, the ICE library under
# aiortc, nominates the first pair whose connectivity check succeeds (aggressive
# nomination, RFC 5245 section 8.1.1.2, deprecated by RFC 8445), not the best one.
# On a busy machine the host pair's check was once answered after a relay pair's:
# the call then ran over coturn although a direct path worked. A path that does not
# exist (the relayed part's host pairs) is never selected, however many calls.
CALLS_PER_PART = 3


def pair_part(caller: str, answerer: str, expected: str) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []
    while len(calls) < CALLS_PER_PART and not calls_selected(calls, expected):
        calls.append(webrtc.peer_pair(caller, answerer, room(), MESSAGES))
        narration.seen(
            f"call {len(calls)}: selected pair {describe_pair(calls[-1]['caller']['pair'])}"
        )
    reports = calls[-1]
    data = reports["caller"]["data"]
    pair = reports["caller"]["pair"]
    result = {
        "pair": pair,
        "pairs_of_each_call": [call["caller"]["pair"] for call in calls],
        "data": data,
        "open_ms": reports["caller"]["open_ms"],
        "signaling_replicas": sorted({r["signaling_replica"] for r in reports.values()}),
    }
    result["holds"] = {
        f"the selected pair is {expected} to {expected}": is_pair_of(pair, expected),
        "every message answered, 0 lost": data["answered"] == data["sent"] and data["lost"] == 0,
    }
    return result


def is_pair_of(pair: dict[str, Any], kind: str) -> bool:
    return pair.get("local", {}).get("type") == kind and pair.get("remote", {}).get("type") == kind


def calls_selected(calls: list[dict[str, Any]], kind: str) -> bool:
    return bool(calls) and is_pair_of(calls[-1]["caller"]["pair"], kind)


def describe_pair(pair: dict[str, Any]) -> str:
    return f"{pair.get('local', {}).get('type', '?')} to {pair.get('remote', {}).get('type', '?')}"


def relayed_bytes(since: str) -> int:
    """Bytes coturn relayed between peers in sessions closed since `since` (its own log)."""
    total = 0
    for line in docker.logs(docker.containers("turn")[0].name, since=since).splitlines():
        if "peer usage:" in line:
            fields = dict(part.strip().split("=", 1) for part in line.split(">,")[-1].split(","))
            total += int(fields.get("rb", 0)) + int(fields.get("sb", 0))
    return total


def server_path() -> dict[str, Any]:
    measured = webrtc.server_path_rtts(room(), MESSAGES)
    rtts = measured["rtts_ms"]
    return {
        "rtt_ms": percentiles_ms([r / 1000 for r in rtts]),
        "replicas": measured["replicas"],
        "servers_on_the_path": ["nginx", "api", "Redis", "api", "nginx"],
        "holds": {"every message answered": len(rtts) == MESSAGES},
    }


def refusals() -> dict[str, Any]:
    answers = webrtc.exchange(room(), "mallory", list(BAD_FRAMES.values()))
    leaked = answers.pop()["messages"]
    turn = {
        kind: webrtc.run_peer("rtc-peer-a", "--room", "x", "--peer", "carol", "--turn-check", kind)
        for kind in ("valid", "wrong", "expired")
    }
    return {
        "signaling": dict(zip(BAD_FRAMES, answers, strict=True)),
        "reached_the_other_peer": leaked,
        "turn": turn,
        "holds": {
            "every malformed message answered with an error": all(
                a["type"] == "error" for a in answers
            ),
            "none reached the other peer": leaked == [],
            "TURN grants a valid credential": turn["valid"]["allocated"],
            "TURN refuses a wrong and an expired one": not turn["wrong"]["allocated"]
            and not turn["expired"]["allocated"],
        },
    }


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service("turn", lambda: bool(docker.containers("turn")), NAME)
    since = docker.inspect(docker.containers("turn")[0].name, "{{.State.StartedAt}}")
    parts = {  # each narrated as it starts, its checks as it ends
        "direct": run_part("direct", lambda: pair_part("rtc-peer-a", "rtc-peer-a", "host")),
        "relayed": run_part("relayed", lambda: pair_part("rtc-peer-a", "rtc-peer-b", "relay")),
        "server_path": run_part("server_path", server_path),
        "refusals": run_part("refusals", refusals),
    }
    parts["relayed"]["relayed_bytes"] = relayed_bytes(since)
    direct, relayed = parts["direct"]["data"]["rtt_ms"], parts["relayed"]["data"]["rtt_ms"]
    parts["comparison"] = {
        "rtt_p50_ms": {
            "direct": direct["p50"],
            "relayed": relayed["p50"],
            "server path": parts["server_path"]["rtt_ms"]["p50"],
        },
        "servers_on_the_data_path": {"direct": 0, "relayed": 1, "server path": 5},
        "holds": {"coturn relayed the relayed pair's bytes": parts["relayed"]["relayed_bytes"] > 0},
    }
    return from_parts(NAME, parts, parts)
