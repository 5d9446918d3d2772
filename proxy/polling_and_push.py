"""The order-status feed through nginx (lesson polling-and-push): each method's own needs.

    /feed/events        short polling: an ordinary request, answered now
    /feed/events/wait   long polling: held by the api up to 30 s, so nginx must
                        wait longer than that before it calls the replica dead
    /feed/stream        server-sent events: one response that never ends;
                        buffering off, or events would wait in nginx's buffer
    /feed/ws            WebSocket: HTTP/1.1 Upgrade, passed on hop by hop
    /sandbox.feed.v1.FeedService/Watch   gRPC server streaming (proxy/grpc.py)

Everything is round robin over the api replicas: no replica keeps state
another could not serve (the feed is in Redis, the client's position is in
the client), so no stickiness is needed, and a client whose replica died
reconnects to another one.
"""

from __future__ import annotations

from proxy import load_balancing
from proxy.model import Directives, Location, Map

# `Connection: upgrade` only when the client asked for one; nginx does not
# forward hop-by-hop headers by itself.
CONNECTION_UPGRADE = Map(
    source="$http_upgrade",
    target="$connection_upgrade",
    entries=(("default", "upgrade"), ("''", "close")),
)

LONG_POLL_READ_TIMEOUT = "45s"  # > the api's longest hold (30 s)
STREAM_READ_TIMEOUT = "60s"  # > SSE heartbeats (15 s) and WebSocket pings (15 s)


def without_connection_header(settings: Directives) -> Directives:
    """The shared proxy settings minus `Connection ""`, which would cancel the upgrade."""
    return tuple(d for d in settings if d != ("proxy_set_header", 'Connection ""'))


def websocket(settings: Directives) -> Directives:
    """A WebSocket's settings: the upgrade passed on, and reads as long as a stream's."""
    return (
        *without_connection_header(settings),
        ("proxy_set_header", "Upgrade $http_upgrade"),
        ("proxy_set_header", "Connection $connection_upgrade"),
        ("proxy_read_timeout", STREAM_READ_TIMEOUT),
        ("proxy_send_timeout", STREAM_READ_TIMEOUT),
    )


def locations(
    settings: Directives, prefix: str = "", upstream: str = "", more: Directives = ()
) -> tuple[Location, ...]:
    """The feed's locations; `settings` are the shared proxy settings of the server.
    Under `prefix` (lesson auth: /secure), to `upstream` with `more` settings."""

    def exact(path: str, shared: Directives, *own: tuple[str, str]) -> Location:
        # With an upstream given, its URI replaces the matched path (the query stays).
        target = f"{upstream}{path}" if upstream else f"http://{load_balancing.ROUND_ROBIN.name}"
        return Location(
            path=f"= {prefix}{path}", proxy_pass=target, directives=(*shared, *more, *own)
        )

    return (
        exact("/feed/events/wait", settings, ("proxy_read_timeout", LONG_POLL_READ_TIMEOUT)),
        exact(
            "/feed/stream",
            settings,
            # Each event goes to the client as soon as the replica writes it.
            ("proxy_buffering", "off"),
            ("proxy_cache", "off"),
            ("proxy_read_timeout", STREAM_READ_TIMEOUT),
        ),
        exact("/feed/ws", websocket(settings)),
    )
