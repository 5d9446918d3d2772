"""The proxies lesson's own nginx, the edge: caching, keep-alive timeouts, streams to
connections, sessions, and the PROXY protocol (scenarios/proxies/README.md).

A reverse proxy of its own, not the site's (proxy/site.py), so that what the
lesson counts in its network namespace (connections accepted and opened:
/proc/net/snmp) and in its logs is the lesson's traffic only, and so that
stopping its origin replicas (catalog) leaves every other lesson alone.

    :8080  HTTP/1.1        /cache/       proxy_cache, with proxy_cache_lock
                           /cache-nolock/ the same cache without the lock
                           /direct/      no cache (the benchmark's baseline)
                           /keepalive/right/  upstream idle timeout below uvicorn's
                           /keepalive/wrong/  upstream idle timeout above it
                           /keepalive/wrong-get/  the same, for GETs
                           /sessions/    round robin; /sticky/ hash of the client cookie
                           /replicas/N/counts  what catalog replica N counted
    :8443  HTTPS, HTTP/2   the same locations, and gRPC to the lesson's pricing (grpc_pass)
    :8491  TCP             to catalog's whoami on 9000
    :8492  TCP             the same, with the PROXY protocol (catalog's 9001)

`python -m proxy generate` renders it to proxy/proxies.conf.
"""

from __future__ import annotations

from proxy.grpc import GRPC_PORT, PATHS
from proxy.load_balancing import COMPOSE_PROJECT, DOCKER_DNS
from proxy.model import (
    UNPRIVILEGED_HTTP,
    Directives,
    Location,
    NginxConfig,
    Server,
    Stream,
    Upstream,
)

HTTP_PORT, TLS_PORT, L4_PORT, L4_PROXY_PROTOCOL_PORT = 8080, 8443, 8491, 8492
CATALOG = "catalog:8000"
MAX_REPLICAS = 4  # compose runs 3; the sessions part adds a fourth for a while
# Toxiproxy between the edge and catalog, for the keep-alive part: a request
# sent on an idle connection that the replica is closing fails only if it is
# still on its way when the replica closes. On this machine's bridge that
# window is microseconds; with the link's latency it is LINK_LATENCY_MS.
LINK = "toxiproxy-edge:8000"
# uvicorn closes a keep-alive connection after 5 s idle (its default,
# --timeout-keep-alive; compose sets it explicitly). The hop before it must
# give up on an idle connection first: 4 s here. The wrong setting is nginx's
# own default, 60 s.
REPLICA_IDLE_S = 5
RIGHT_IDLE = "4s"
WRONG_IDLE = "60s"
KEEPALIVE = 32  # idle upstream connections kept per worker
CACHE_ZONE = "edge_cache"
# The cache: keys in shared memory (1 MB holds about 8,000 keys, nginx's
# figure), bodies in /tmp (a tmpfs of 32 MB in compose), at most 16 MB of
# them; an entry unused for 10 minutes is removed, fresh or not.
CACHE_PATH = (
    f"/tmp/cache levels=1:2 keys_zone={CACHE_ZONE}:1m max_size=16m inactive=10m use_temp_path=off"
)
CACHE_KEY = "$scheme$proxy_host$request_uri"  # nginx's default, written out
RESOLVER: Directives = (("resolver", f"{DOCKER_DNS} valid=1s ipv6=off"), ("resolver_timeout", "2s"))

LOG_FORMAT = (
    "'{"
    '"time":$msec,'
    '"connection":$connection,'
    '"connection_requests":$connection_requests,'
    '"protocol":"$server_protocol",'
    '"remote_addr":"$remote_addr",'
    '"request":"$request",'
    '"status":$status,'
    '"upstream_addr":"$upstream_addr",'
    '"upstream_status":"$upstream_status",'
    '"cache":"$upstream_cache_status",'
    '"request_time":$request_time'
    "}'"
)
STREAM_LOG_FORMAT = (
    "'{"
    '"time":$msec,'
    '"port":$server_port,'
    '"remote_addr":"$remote_addr",'
    '"upstream_addr":"$upstream_addr",'
    '"status":$status'
    "}'"
)


def catalog(name: str, idle: str, balancing: str | None = None, via: str = CATALOG) -> Upstream:
    return Upstream(name=name, servers=(f"{via} resolve",), balancing=balancing,
                    keepalive=KEEPALIVE,
                    directives=(("zone", f"{name} 64k"), ("keepalive_timeout", idle)))  # fmt: skip


UPSTREAMS = (
    catalog("catalog", RIGHT_IDLE),
    # The keep-alive part's two settings, both over the same slow link.
    catalog("catalog_link_right", RIGHT_IDLE, via=LINK),
    catalog("catalog_link_wrong", WRONG_IDLE, via=LINK),
    # The same wrong setting for GETs: a pool of its own, so that each client
    # of the part meets only the connections it left idle itself.
    catalog("catalog_link_wrong_get", WRONG_IDLE, via=LINK),
    # Open-source nginx has no `sticky` directive (NGINX Plus has): the hash of a
    # cookie every request of one client carries pins it to one replica. Each
    # replica is a server of its own (a hash over one name that resolves to
    # several addresses falls back to round robin), up to MAX_REPLICAS: a name
    # that does not resolve yet has no place on the ring until it does.
    Upstream(
        name="catalog_sticky",
        balancing="hash $cookie_client consistent",
        servers=tuple(
            f"{COMPOSE_PROJECT}-catalog-{n}:8000 resolve" for n in range(1, MAX_REPLICAS + 1)
        ),
        keepalive=KEEPALIVE,
        directives=(("zone", "catalog_sticky 64k"), ("keepalive_timeout", RIGHT_IDLE)),
    ),
    Upstream(
        name="pricing_grpc",
        servers=(f"proxies-pricing:{GRPC_PORT} resolve",),
        keepalive=KEEPALIVE,
        directives=(("zone", "pricing_grpc 64k"),),
    ),
)

TO_UPSTREAM: Directives = (
    ("proxy_http_version", "1.1"),
    ("proxy_set_header", 'Connection ""'),
    ("proxy_set_header", "Host $host"),
    ("proxy_connect_timeout", "1s"),
    ("proxy_read_timeout", "10s"),
)

CACHING: Directives = (
    ("proxy_cache", CACHE_ZONE),
    ("proxy_cache_key", CACHE_KEY),
    # Expired: ask the origin with If-None-Match / If-Modified-Since, keep the body on 304.
    ("proxy_cache_revalidate", "on"),
    # The origin down or failing: serve the expired copy rather than an error.
    ("proxy_cache_use_stale", "error timeout http_500 http_502 http_503 http_504"),
    # nginx ignores Authorization when it caches (RFC 9111 section 3.5 says a
    # shared cache must not reuse such a response unless it is marked public):
    # a request that carries one neither reads nor fills the cache here.
    ("proxy_no_cache", "$http_authorization"),
    ("proxy_cache_bypass", "$http_authorization"),
    ("add_header", "X-Cache-Status $upstream_cache_status always"),
)


def cached(prefix: str, lock: bool) -> Location:
    lock_directives: Directives = (
        (("proxy_cache_lock", "on"), ("proxy_cache_lock_timeout", "5s")) if lock
        else (("proxy_cache_lock", "off"),)
    )  # fmt: skip
    return Location(path=prefix, proxy_pass="http://catalog/",
                    directives=(*TO_UPSTREAM, *CACHING, *lock_directives))  # fmt: skip


def passed(prefix: str, upstream: str) -> Location:
    return Location(path=prefix, proxy_pass=f"http://{upstream}/", directives=TO_UPSTREAM)


HEALTH = Location(path="= /nginx-health", directives=(
    ("access_log", "off"), ("default_type", "text/plain"), ("return", '200 "ok"')))  # fmt: skip

# Each replica's own counts, by its Compose name (comms-sandbox-catalog-N): the
# lesson reads what every replica counted through here, one HTTP request each,
# where a `docker exec` per replica and per reading cost the machine far more.
REPLICA_COUNTS = Location(
    path="~ ^/replicas/(?<replica>[1-9])/counts$",
    proxy_pass=f"http://{COMPOSE_PROJECT}-catalog-$replica:8000/counts",
    directives=(("proxy_connect_timeout", "1s"), ("proxy_read_timeout", "3s"),
                ("access_log", "off")),
)  # fmt: skip

HTTP_LOCATIONS = (
    HEALTH,
    REPLICA_COUNTS,
    cached("/cache/", lock=True),
    cached("/cache-nolock/", lock=False),
    passed("/direct/", "catalog"),
    passed("/keepalive/right/", "catalog_link_right"),
    passed("/keepalive/wrong/", "catalog_link_wrong"),
    passed("/keepalive/wrong-get/", "catalog_link_wrong_get"),
    passed("/sessions/", "catalog/sessions"),
    passed("/sticky/sessions/", "catalog_sticky/sessions"),
)

GRPC = tuple(
    Location(path=f"/{path}/", grpc_pass="grpc://pricing_grpc",
             directives=(("grpc_read_timeout", "30s"), ("grpc_connect_timeout", "1s")))
    for path in PATHS
)  # fmt: skip

TLS: Directives = (
    ("http2", "on"),
    ("ssl_certificate", "/etc/nginx/tls/server.pem"),
    ("ssl_certificate_key", "/etc/nginx/tls/server.key"),
    ("ssl_protocols", "TLSv1.2 TLSv1.3"),
    # nginx's default is 128 streams at once on one connection; the lesson's
    # HTTP/2 client opens 100.
    ("http2_max_concurrent_streams", "128"),
)

STREAM = Stream(
    directives=(
        *RESOLVER,
        ("log_format", f"edge_stream escape=json {STREAM_LOG_FORMAT}"),
        ("access_log", "/dev/stdout edge_stream"),
    ),
    upstreams=(
        Upstream(
            name="whoami", servers=("catalog:9000 resolve",), directives=(("zone", "whoami 64k"),)
        ),
        Upstream(
            name="whoami_proxy_protocol",
            servers=("catalog:9001 resolve",),
            directives=(("zone", "whoami_proxy_protocol 64k"),),
        ),
    ),
    servers=(
        Server(
            listen=str(L4_PORT),
            directives=(("proxy_pass", "whoami"), ("proxy_connect_timeout", "1s")),
        ),
        Server(
            listen=str(L4_PROXY_PROTOCOL_PORT),
            directives=(
                ("proxy_pass", "whoami_proxy_protocol"),
                ("proxy_connect_timeout", "1s"),
                # Before the client's bytes, one line saying who the client is.
                ("proxy_protocol", "on"),
            ),
        ),
    ),
)

EDGE = NginxConfig(
    main_directives=(
        ("worker_processes", "1"),
        ("pid", "/tmp/nginx.pid"),
        ("error_log", "stderr error"),
        # Debian's dynamic modules (stream) in the local image; the upstream image
        # has them compiled in and no such folder (a glob matching nothing is fine).
        ("include", "/etc/nginx/modules-enabled/*.conf"),
    ),
    http_directives=(
        *UNPRIVILEGED_HTTP,
        *RESOLVER,
        ("log_format", f"edge escape=json {LOG_FORMAT}"),
        ("access_log", "/dev/stdout edge"),
        ("proxy_cache_path", CACHE_PATH),
        ("client_max_body_size", "16k"),
        ("large_client_header_buffers", "4 8k"),
        ("keepalive_timeout", "30s"),
    ),
    upstreams=UPSTREAMS,
    servers=(
        Server(listen=str(HTTP_PORT), locations=HTTP_LOCATIONS),
        Server(listen=f"{TLS_PORT} ssl", locations=(*HTTP_LOCATIONS, *GRPC), directives=TLS),
    ),
    stream=STREAM,
)
