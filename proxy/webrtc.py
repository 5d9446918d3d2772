"""WebRTC signaling through nginx (lesson webrtc): a WebSocket per peer, to any api replica.

    /signal/ws      WebSocket: HTTP/1.1 Upgrade, passed on hop by hop (as /feed/ws)
    /signal/turn    time-limited TURN credentials: an ordinary request

Round robin, no stickiness: the rooms live in Redis and every replica relays
to every other through it (services/api/routes/signaling.py).
"""

from __future__ import annotations

from proxy import load_balancing, polling_and_push
from proxy.model import Directives, Location


def locations(settings: Directives) -> tuple[Location, ...]:
    upstream = f"http://{load_balancing.ROUND_ROBIN.name}"
    return (
        Location(
            path="= /signal/ws",
            proxy_pass=upstream,
            directives=polling_and_push.websocket(settings),
        ),
    )
