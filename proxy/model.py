"""Declarative description of an nginx configuration.

Small frozen dataclasses, rendered to text by proxy.nginx_builder. A directive
is a ``(name, args)`` pair written exactly as in nginx.conf without the
trailing semicolon, e.g. ``("proxy_set_header", "X-Request-ID $request_id")``;
an empty ``args`` renders a bare directive (``internal;``). Names may repeat:
order is kept and nothing collapses.

Later additions fit without changes here: balancing methods and weights are
plain strings (``Upstream(balancing="hash $key consistent", servers=("a:1
weight=3",))``), TLS is ``Server(listen="8443 ssl", directives=(("http2",
"on"), ...))``, gRPC is ``Location(path, grpc_pass="grpc://name")`` and L4
proxying is ``NginxConfig(stream=Stream(...))``. A ``Map`` derives one
variable from another (``map $http_x_client_key $lb_key {...}``).
"""

from __future__ import annotations

from dataclasses import dataclass

Directive = tuple[str, str]
Directives = tuple[Directive, ...]


# Every nginx here runs as uid 101 on a read-only root filesystem with a tmpfs
# on /tmp: it must not advertise its version, and its temp dirs (compiled in
# under /var) move to /tmp, where it may write.
UNPRIVILEGED_HTTP: Directives = (
    ("server_tokens", "off"),
    ("client_body_temp_path", "/tmp/client_body"),
    ("proxy_temp_path", "/tmp/proxy"),
    ("fastcgi_temp_path", "/tmp/fastcgi"),
    ("uwsgi_temp_path", "/tmp/uwsgi"),
    ("scgi_temp_path", "/tmp/scgi"),
)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Upstream:
    """An ``upstream NAME {}`` group (works in both http and stream)."""

    name: str
    servers: tuple[str, ...]
    balancing: str | None = None  # "least_conn", "hash $key consistent", "random two"...
    keepalive: int | None = None  # idle connections kept per worker (http only)
    directives: Directives = ()  # e.g. ("keepalive_timeout", "4s")

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "an upstream needs a name")
        _require(bool(self.servers), f"upstream {self.name!r} has no servers")


@dataclass(frozen=True)
class Map:
    """A ``map SOURCE $TARGET {}`` block; each entry is ``(key, value)``: ``("default", "x")``."""

    source: str
    target: str
    entries: Directives

    def __post_init__(self) -> None:
        _require(self.target.startswith("$"), f"map target {self.target!r} must be a $variable")
        _require(bool(self.entries), f"map {self.target} has no entries")


@dataclass(frozen=True)
class Condition:
    """An ``if (TEST) {}`` inside a location; keep to ``return`` (nginx's "if is evil")."""

    test: str
    directives: Directives


# Every proxied location sets this to its upstream group's name ("api",
# "pricing_grpc"): nginx has no such variable of its own after the request,
# and the access log and nginx's metrics (proxy/metrics.js) label requests by it.
UPSTREAM_VARIABLE = "$sandbox_upstream"


@dataclass(frozen=True)
class Location:
    """A ``location PATH {}``; PATH may carry a modifier: ``= /exact``, ``~ regex``."""

    path: str
    proxy_pass: str | None = None
    directives: Directives = ()
    grpc_pass: str | None = None
    conditions: tuple[Condition, ...] = ()  # rendered first, before any other directive

    def __post_init__(self) -> None:
        _require(bool(self.path.strip()), "a location needs a path")
        _require(
            self.proxy_pass is None or self.grpc_pass is None,
            f"location {self.path!r}: proxy_pass and grpc_pass exclude each other",
        )

    @property
    def upstream(self) -> str | None:
        """The upstream group (or host) it passes to: http://api/ -> "api"."""
        target = self.proxy_pass or self.grpc_pass
        if target is None:
            return None
        return target.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]


@dataclass(frozen=True)
class Server:
    """A ``server {}``; ``listen`` is the listen directive's arguments ("8443 ssl").

    Stream (L4) servers have no locations: they put ``proxy_pass`` in directives.
    """

    listen: str
    locations: tuple[Location, ...] = ()
    directives: Directives = ()

    def __post_init__(self) -> None:
        _require(bool(self.listen.strip()), "a server needs a listen address")


@dataclass(frozen=True)
class Stream:
    """The ``stream {}`` block: TCP/UDP proxying (needs the stream module loaded)."""

    upstreams: tuple[Upstream, ...] = ()
    servers: tuple[Server, ...] = ()
    directives: Directives = ()
    maps: tuple[Map, ...] = ()

    def __post_init__(self) -> None:
        _require(
            all(not server.locations for server in self.servers),
            "stream servers have no locations",
        )
        _require_unique_names(self.upstreams)


@dataclass(frozen=True)
class NginxConfig:
    """The whole file: main context, events, http and an optional stream block."""

    upstreams: tuple[Upstream, ...]
    servers: tuple[Server, ...]
    http_directives: Directives = ()
    main_directives: Directives = ()
    events_directives: Directives = (("worker_connections", "1024"),)
    stream: Stream | None = None
    maps: tuple[Map, ...] = ()  # http-level, rendered before the upstreams

    def __post_init__(self) -> None:
        _require_unique_names(self.upstreams)


def _require_unique_names(upstreams: tuple[Upstream, ...]) -> None:
    names = [upstream.name for upstream in upstreams]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    _require(not duplicates, f"duplicate upstream names: {duplicates}")
