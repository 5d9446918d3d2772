"""Load balancing: one upstream per method, each on its own path, and L4 on its own port.

    /lb/round-robin/...  ->  upstream api             (also what / uses)
    /lb/weighted/...     ->  upstream api_weighted    (3:1:1)
    /lb/least-conn/...   ->  upstream api_least_conn
    /lb/hash/...         ->  upstream api_hash        (by X-Client-Key, else client address)
    port 8081 (stream)   ->  upstream api_l4          (TCP: one connection, one replica)

The path prefix is stripped (`/lb/weighted/whoami` reaches a replica as
`/whoami`). Every upstream names its servers by Docker DNS name with
`resolve`: nginx re-asks Docker's DNS every RESOLVE_VALID, so replicas added
by `docker compose up --scale api=N`, killed, or re-created with a new
address join and leave the pool without a reload (nginx >= 1.27.3).
"""

from __future__ import annotations

from proxy.model import Directives, Location, Map, Server, Upstream

# compose.yaml's `name:`: Compose names replica N `comms-sandbox-api-N`, and
# Docker's DNS answers that name on the project's networks. Methods that need
# to tell replicas apart (weights, a stable hash ring) list them by it.
COMPOSE_PROJECT = "comms-sandbox"
API_PORT = 8000
REPLICAS = 3  # compose.yaml's deploy.replicas for api
L4_PORT = 8081
PREFIX = "/lb/"

# Docker's embedded DNS server, on every user-defined network.
DOCKER_DNS = "127.0.0.11"
RESOLVE_VALID = "1s"
RESOLVER = (
    # valid= overrides the record TTL (Docker sets 600 s): how soon a new or
    # dead replica is noticed. ipv6=off: the networks are IPv4-only.
    ("resolver", f"{DOCKER_DNS} valid={RESOLVE_VALID} ipv6=off"),
    ("resolver_timeout", "2s"),
)
# For upstreams whose service runs only under a lesson's Compose profile: asked
# once a minute, so while the lesson is stopped its failed lookups do not fill
# the error log every second. Starting a lesson restarts nginx, which asks
# again at once (comms_sandbox.compose.restart_proxy).
LESSON_RESOLVER = (("resolver", f"{DOCKER_DNS} valid=60s ipv6=off"),)

# Passive health checks: one failed connect or read (refused, reset, timed
# out) takes a server out of rotation for fail_timeout; then nginx tries one
# live request on it again. Failures also move the request on (see RETRIES).
PASSIVE_HEALTH = "max_fails=1 fail_timeout=3s"
WEIGHTS = (3, 1, 1)


def replica_name(index: int) -> str:
    """Docker DNS name of api replica `index` (1-based), as Compose names it."""
    return f"{COMPOSE_PROJECT}-api-{index}"


def _pool(name: str) -> str:
    return f"{name}:{API_PORT} resolve {PASSIVE_HEALTH}"


def _each_replica(weights: tuple[int, ...] = (1,) * REPLICAS) -> tuple[str, ...]:
    return tuple(
        _pool(replica_name(index)) + (f" weight={weight}" if weight != 1 else "")
        for index, weight in enumerate(weights, start=1)
    )


def _http_upstream(name: str, servers: tuple[str, ...], balancing: str | None = None) -> Upstream:
    return Upstream(
        name=name,
        servers=servers,
        balancing=balancing,
        # Idle connections to the replicas kept open per worker, so requests do
        # not pay a TCP handshake each (needs HTTP/1.1 and an empty Connection).
        keepalive=16,
        directives=(
            # `resolve` keeps the server list in shared memory.
            ("zone", f"{name} 64k"),
            # Close idle upstream connections before uvicorn does (its
            # keep-alive timeout is 5 s): reusing a connection the replica is
            # closing gives a 502 that cannot be retried for a POST.
            ("keepalive_timeout", "4s"),
        ),
    )


# Round robin: each request to the next server in turn. One DNS name that
# resolves to every replica, so scaling changes the pool.
ROUND_ROBIN = _http_upstream("api", (_pool("api"),))
# Weighted round robin (nginx's smooth variant interleaves: a b a c a ...).
WEIGHTED = _http_upstream("api_weighted", _each_replica(WEIGHTS))
# Least connections: the server with the fewest requests in flight; ties go
# round robin. Needs the zone above to count across workers.
LEAST_CONN = _http_upstream("api_least_conn", (_pool("api"),), balancing="least_conn")
# Consistent hashing (ketama) on a client key. The ring is built from server
# names, so it needs one name per replica: with one name resolving to three
# addresses every point would collide. A replica leaving moves only its keys.
HASH = _http_upstream("api_hash", _each_replica(), balancing="hash $lb_client_key consistent")

UPSTREAMS = (ROUND_ROBIN, WEIGHTED, LEAST_CONN, HASH)
METHODS = {
    "round-robin": ROUND_ROBIN,
    "weighted": WEIGHTED,
    "least-conn": LEAST_CONN,
    "hash": HASH,
}

# The hash key: X-Client-Key when the client sends one (a user or session
# id), its address otherwise. Clients behind one NAT share an address.
CLIENT_KEY = Map(
    source="$http_x_client_key",
    target="$lb_client_key",
    entries=(('""', "$remote_addr"), ("default", "$http_x_client_key")),
)

RETRIES = (
    # Passed to the next server: a failed or timed-out connect, or an error
    # or timeout reading the response header. For a POST nginx does that
    # only if nothing was sent yet (a refused connect): once a POST reached
    # a replica it may have had its effect, and replaying it elsewhere could
    # charge twice. `non_idempotent` would lift that; it is left out on
    # purpose. Tries and time are bounded so a dead pool fails fast.
    ("proxy_next_upstream", "error timeout"),
    ("proxy_next_upstream_tries", "3"),
    ("proxy_next_upstream_timeout", "10s"),
)


def method_locations(proxy_directives: Directives) -> tuple[Location, ...]:
    """One `/lb/METHOD/` location per method; `proxy_directives` are the shared proxy settings."""
    return tuple(
        Location(
            path=f"{PREFIX}{method}/",
            # The trailing slash replaces the matched prefix with "/".
            proxy_pass=f"http://{upstream.name}/",
            directives=(*proxy_directives, ("add_header", f"X-LB-Method {method} always")),
        )
        for method, upstream in METHODS.items()
    )


# L4 log line: nginx sees bytes and connections, no requests or headers.
L4_LOG_FORMAT = (
    "'{"
    '"time":"$time_iso8601",'
    '"remote_addr":"$remote_addr",'
    '"status":$status,'
    '"bytes_sent":$bytes_sent,'
    '"bytes_received":$bytes_received,'
    '"session_time":$session_time,'
    '"upstream_addr":"$upstream_addr",'
    '"sni":"$ssl_preread_server_name"'
    "}'"
)

STREAM_DIRECTIVES = (
    *RESOLVER,
    ("log_format", f"l4 escape=json {L4_LOG_FORMAT}"),
    ("access_log", "/dev/stdout l4"),
)

# Balanced per TCP connection: every request on a kept-alive connection goes
# to the replica that connection was given.
L4_UPSTREAM = Upstream(name="api_l4", servers=(_pool("api"),), directives=(("zone", "api_l4 64k"),))


def tcp_proxy(port: int, upstream: Upstream, idle_timeout: str = "60s") -> Server:
    """A stream server passing every TCP connection on `port` to one server of `upstream`."""
    return Server(
        listen=str(port),
        directives=(
            ("proxy_pass", upstream.name),
            ("proxy_connect_timeout", "2s"),
            # An idle connection is closed after this long.
            ("proxy_timeout", idle_timeout),
        ),
    )


L4_SERVER = tcp_proxy(L4_PORT, L4_UPSTREAM)
