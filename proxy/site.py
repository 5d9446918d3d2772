"""THE description of this sandbox's reverse proxy: read this, not nginx.conf.

`python -m proxy generate` renders it to proxy/nginx.conf (committed, and
bind-mounted by compose at /etc/nginx/nginx.conf); `python -m proxy check`
fails when the two differ. Comments say why a directive is there.
"""

from __future__ import annotations

from proxy import (
    auth,
    execution_models,
    grpc,
    http_versions,
    load_balancing,
    observability,
    on_the_wire,
    polling_and_push,
    tls_termination,
    webrtc,
)
from proxy.model import (
    UNPRIVILEGED_HTTP,
    UPSTREAM_VARIABLE,
    Condition,
    Location,
    NginxConfig,
    Server,
    Stream,
)

# Port nginx listens on inside the container. Above 1024 so nginx runs as the
# unprivileged uid 101; compose maps a host port onto it.
LISTEN_PORT = 8080  # published: plain HTTP, redirected to HTTPS but for health
# Not published: plain HTTP for clients inside the `back` network (the
# benchmarks' wrk), so the proxy's own cost can be measured without TLS's.
INTERNAL_PORT = 8090
HEALTH_PATH = "/nginx-health"
READ_TIMEOUT = "2500ms"  # see HTTP's proxy_read_timeout
# Routes that may take longer on purpose, and nginx's read timeout for each:
# POST /orders waits for both brokers' confirms (5 s at most); /delay sleeps
# up to 5 s when asked to.
SLOW_ROUTES = {"= /orders": "10s", "= /delay": "10s"}
API_HEALTH_PATHS = ("/healthz", "/readyz")

MAIN = (
    # Loads Debian's dynamic modules (stream, mail) in the local image. The
    # upstream nginx image compiles them in and has no such directory: a glob
    # matching nothing is not an error for nginx.
    ("include", "/etc/nginx/modules-enabled/*.conf"),
    observability.LOAD_NJS,
    # The box has 2 cores shared by nginx, 3 API replicas and the brokers.
    ("worker_processes", "1"),
    # Writable as a non-root user on a read-only root filesystem (tmpfs /tmp).
    ("pid", "/tmp/nginx.pid"),
    ("error_log", "stderr notice"),
)

EVENTS = (("worker_connections", "1024"),)

# One JSON object per request on stdout: `docker compose logs proxy | jq`.
# request_id is the X-Request-ID the replica sees (proxy/observability.py);
# upstream_addr says which replica answered (several addresses when nginx
# retried another one); the times are seconds, upstream ones per attempt.
ACCESS_LOG_FORMAT = (
    "'{"
    '"time":"$time_iso8601",'
    f'"request_id":"{observability.REQUEST_ID}",'
    f'"traceparent":"{observability.TRACEPARENT}",'
    '"remote_addr":"$remote_addr",'
    '"request":"$request",'
    # HTTP/1.1, HTTP/2.0 or HTTP/3.0; the ALPN protocol TLS or QUIC agreed
    # on; "1" when the request came in TLS early data (0-RTT). The client's
    # port tells its connections apart, QUIC ones too (proxy/http_versions.py).
    '"protocol":"$server_protocol",'
    '"alpn":"$ssl_alpn_protocol",'
    f'"early_data":"{http_versions.EARLY_DATA}",'
    '"remote_port":"$remote_port",'
    '"status":$status,'
    '"body_bytes_sent":$body_bytes_sent,'
    # Bytes on the wire, headers included (for a WebSocket or an event stream:
    # everything sent until it closed), and which connection carried the request.
    '"bytes_sent":$bytes_sent,'
    '"request_length":$request_length,'
    '"connection":$connection,'
    '"connection_requests":$connection_requests,'
    '"request_time":$request_time,'
    f'"upstream":"{UPSTREAM_VARIABLE}",'
    '"upstream_addr":"$upstream_addr",'
    '"upstream_status":"$upstream_status",'
    '"upstream_connect_time":"$upstream_connect_time",'
    '"upstream_header_time":"$upstream_header_time",'
    '"upstream_response_time":"$upstream_response_time",'
    '"user_agent":"$http_user_agent",'
    # A label a client may set (X-Sandbox-Client; gRPC metadata x-sandbox-client)
    # so a scenario can find its own requests' lines and measure them.
    '"client":"$http_x_sandbox_client"'
    # Always empty: evaluating it counts the request (proxy/metrics.js).
    f"}}{observability.COUNTED}'"
)

HTTP = (
    ("include", "/etc/nginx/mime.types"),
    ("default_type", "application/octet-stream"),
    *UNPRIVILEGED_HTTP,
    ("log_format", f"json escape=json {ACCESS_LOG_FORMAT}"),
    # Buffered: one write per 64 KiB or per second instead of one per request,
    # which matters when a benchmark sends thousands a second through Docker's log driver.
    ("access_log", "/dev/stdout json buffer=64k flush=1s"),
    # The API takes small JSON bodies; larger ones get 413 from nginx.
    ("client_max_body_size", "1m"),
    # Replicas sit on the same Docker network: a connect taking more than 1 s
    # means the replica is gone, so fail fast and let proxy_next_upstream try
    # another. A hung replica (frozen, deadlocked) still accepts connections:
    # the kernel answers the handshake. Only the read timeout notices it, so
    # it is short by default: every api answer takes well under it (POST
    # /quotes gives up on pricing after 2 s), and an idempotent request that
    # hits a hung replica is passed to the next one after READ_TIMEOUT.
    # Routes that wait on purpose get their own (SLOW_ROUTES, proxy/polling_and_push.py).
    ("proxy_connect_timeout", "1s"),
    ("proxy_send_timeout", "10s"),
    ("proxy_read_timeout", READ_TIMEOUT),
    # Docker's DNS, re-asked while running (upstream servers use `resolve`).
    *load_balancing.RESOLVER,
    *observability.HTTP,
)

HEALTH = Location(
    # Exact match: only this path, checked before any prefix location.
    path=f"= {HEALTH_PATH}",
    directives=(
        # The container's healthcheck calls this every 2 s: keep it out of the log.
        ("access_log", "off"),
        ("default_type", "text/plain"),
        ("return", '200 "ok"'),
    ),
)

FORWARDED_HEADERS = (
    # Keepalive to the upstream needs HTTP/1.1 and no "Connection: close".
    ("proxy_http_version", "1.1"),
    ("proxy_set_header", 'Connection ""'),
    # Host without the port; X-Forwarded-Host is what the client typed
    # (with the published port), for building absolute URLs.
    ("proxy_set_header", "Host $host"),
    ("proxy_set_header", "X-Real-IP $remote_addr"),
    # Appends the client address to any X-Forwarded-For it already sent.
    ("proxy_set_header", "X-Forwarded-For $proxy_add_x_forwarded_for"),
    ("proxy_set_header", "X-Forwarded-Proto $scheme"),
    ("proxy_set_header", "X-Forwarded-Host $http_host"),
    # The client's request id if well-formed, else a fresh one, so nginx's log
    # line and every service's can be joined; W3C trace context, if well-formed.
    *observability.PROXY_HEADERS,
    # RFC 8470: the api refuses unsafe requests that came in early data.
    *http_versions.EARLY_DATA_HEADER,
)

RESPONSE_HEADERS = (
    # `always` adds them to error responses too (502/504 are the interesting
    # ones). add_header in a location replaces any inherited from the server.
    *observability.RESPONSE_HEADERS,
    # Which replica answered: evidence of load balancing, seen by curl -i.
    ("add_header", "X-Upstream-Addr $upstream_addr always"),
)

PROXY_SETTINGS = FORWARDED_HEADERS + RESPONSE_HEADERS + load_balancing.RETRIES


def api_locations(settings: tuple[tuple[str, str], ...]) -> tuple[Location, ...]:
    """The api behind every method's path, and everything else round robin."""
    upstream = f"http://{load_balancing.ROUND_ROBIN.name}"
    slow = tuple(
        Location(path=path, proxy_pass=upstream,
                 directives=(*settings, ("proxy_read_timeout", timeout)))
        for path, timeout in SLOW_ROUTES.items()
    )  # fmt: skip
    catch_all = Location(
        path="/", proxy_pass=upstream, directives=(*settings, ("error_page", f"502 = {FRESH_PICK}"))
    )
    return (*load_balancing.method_locations(settings), *polling_and_push.locations(settings),
            *webrtc.locations(settings), *slow, catch_all,
            fresh_pick(upstream, settings))  # fmt: skip


# nginx 1.27.3 to 1.30 (nginx/nginx#1656, open): a request keeps the snapshot of
# its upstream's peer set that it started with, and once `resolve` changes the
# set (a killed replica leaving Docker's DNS) every retry on the old snapshot
# finds "no live upstreams": the GET that was on the dead replica gets 502
# (X-Upstream-Addr "10.0.0.4:8000, api") instead of going to the next replica.
# An nginx-made 502 (the api's own 502s pass through: no proxy_intercept_errors)
# sends idempotent requests through once more, as a new pick on the current set
# (X-Upstream-Addr then has " : " between the two passes). A POST may have
# reached a replica, so it keeps its 502.
FRESH_PICK = "@api_fresh_pick"
IDEMPOTENT_ONLY = Condition(
    test="$request_method !~ ^(GET|HEAD|OPTIONS)$", directives=(("return", "502"),)
)


def fresh_pick(upstream: str, settings: tuple[tuple[str, str], ...]) -> Location:
    """The named location that sends an idempotent request through once more (see FRESH_PICK)."""
    return Location(
        path=FRESH_PICK,
        proxy_pass=upstream,
        directives=settings,
        conditions=(IDEMPOTENT_ONLY,),
    )


def plain_http_locations() -> tuple[Location, ...]:
    """Health endpoints answer over plain HTTP (probes rarely speak TLS); the rest moves to HTTPS.

    308, not 301: the client repeats the same method and body (a POST stays a POST).
    """
    health = tuple(
        Location(path=f"= {path}", proxy_pass=f"http://{load_balancing.ROUND_ROBIN.name}",
                 directives=PROXY_SETTINGS)
        for path in API_HEALTH_PATHS
    )  # fmt: skip
    redirect = Location(
        path="/",
        # $host is the name the client used, without its port: the HTTPS port
        # is this one unless PROXY_TLS_PORT moved it on the host.
        directives=(("return", f"308 https://$host:{tls_termination.TLS_PORT}$request_uri"),),
    )
    return (HEALTH, *health, redirect)


# HTTPS adds HSTS and Alt-Svc (HTTP/3 on the same port) to every answer
# (add_header in a location replaces the server's, so each location has them).
TLS_SETTINGS = PROXY_SETTINGS + tls_termination.HSTS + http_versions.ALT_SVC

SITE = NginxConfig(
    main_directives=MAIN,
    events_directives=EVENTS,
    http_directives=HTTP,
    maps=(
        load_balancing.CLIENT_KEY,
        polling_and_push.CONNECTION_UPGRADE,
        http_versions.EARLY_DATA_MAP,
        *observability.MAPS,
        auth.FORBIDDEN_MAP,
    ),
    upstreams=(
        *load_balancing.UPSTREAMS,
        *tls_termination.REENCRYPT_UPSTREAMS.values(),
        grpc.UPSTREAM,
        *execution_models.UPSTREAMS,
        *auth.UPSTREAMS,
    ),
    servers=(
        Server(listen=str(LISTEN_PORT), locations=plain_http_locations()),
        Server(
            listen=str(INTERNAL_PORT),
            locations=(
                HEALTH,
                *execution_models.locations(PROXY_SETTINGS),
                *api_locations(PROXY_SETTINGS),
            ),
        ),
        observability.METRICS_SERVER,
        tls_termination.termination_server(
            (
                HEALTH,
                *tls_termination.reencrypt_locations(TLS_SETTINGS),
                *grpc.locations(tls_termination.HSTS),
                *execution_models.locations(TLS_SETTINGS),
                *auth.locations(TLS_SETTINGS),
                *api_locations(TLS_SETTINGS),
            ),
            (*http_versions.QUIC, *grpc.CONNECTION_LIMITS),
            listen_params=on_the_wire.LISTEN_PARAMS,
        ),
    ),
    stream=Stream(
        directives=load_balancing.STREAM_DIRECTIVES,
        maps=(tls_termination.PASSTHROUGH_ROUTES,),
        upstreams=(
            load_balancing.L4_UPSTREAM,
            tls_termination.PASSTHROUGH_UPSTREAM,
            grpc.L4_UPSTREAM,
            *http_versions.ECHO_UPSTREAMS,
        ),
        servers=(
            load_balancing.L4_SERVER,
            tls_termination.PASSTHROUGH_SERVER,
            grpc.L4_SERVER,
            *http_versions.ECHO_SERVERS,
        ),
    ),
)
