"""The inventory app's ambassador sidecar: an nginx in the app's network namespace.

compose.yaml runs it with `network_mode: "service:inventory"`: it shares the
app's network stack, owns the service's port (8000) and reaches the app on
127.0.0.1:9000, where nothing outside that namespace can connect. What it
adds, none of which the app's code knows about:
- API-key authentication: no or a wrong X-API-Key is a 401 here, and the
  app never sees the request;
- a request id: the caller's X-Request-ID, or a new one, sent to the app and
  returned to the caller;
- timeouts: the app gets READ_TIMEOUT to answer, then the caller gets 504;
- retries of failed idempotent calls: a 502/503 or a refused connection is
  tried once more (nginx never replays a POST that was sent);
- rate limiting per client address: 429 above RATE with a burst of BURST;
- one JSON access log line per request on stdout.

`python -m proxy generate` renders it to proxy/sidecar.conf.
"""

from __future__ import annotations

from proxy.model import UNPRIVILEGED_HTTP, Condition, Location, Map, NginxConfig, Server, Upstream

LISTEN_PORT = 8000  # the service's port, as its callers know it
APP = "127.0.0.1:9000"  # the app, inside the shared network namespace
# The accepted key is not in this file: `make up` renders it (INVENTORY_API_KEY,
# documented default in comms_sandbox/credentials.py) into a map file that
# compose mounts here, as a real deployment would mount a secret.
API_KEYS_FILE = "/etc/nginx/sidecar/api-keys.map"
RATE, BURST = "20r/s", 10
READ_TIMEOUT = "2s"

LOG_FORMAT = (
    "'{"
    '"time":"$time_iso8601",'
    '"request_id":"$sidecar_request_id",'
    '"remote_addr":"$remote_addr",'
    '"request":"$request",'
    '"status":$status,'
    '"request_time":$request_time,'
    '"upstream_status":"$upstream_status",'
    '"upstream_response_time":"$upstream_response_time",'
    '"api_key_ok":$api_key_ok,'
    '"limit_req":"$limit_req_status"'
    "}'"
)

API_KEY_CHECK = Map(
    "$http_x_api_key", "$api_key_ok", (("default", "0"), ("include", API_KEYS_FILE))
)
REQUEST_ID = Map(
    "$http_x_request_id",
    "$sidecar_request_id",
    (('""', "$request_id"), ("default", "$http_x_request_id")),
)

# The same app twice: proxy_next_upstream needs a "next" server to retry on.
# max_fails=0: a failure must not take the only app out of rotation.
APP_UPSTREAM = Upstream(
    name="app",
    servers=(f"{APP} max_fails=0", f"{APP} max_fails=0"),
    keepalive=8,
)

HEALTH = Location(
    path="= /nginx-health",
    directives=(("access_log", "off"), ("default_type", "text/plain"), ("return", '200 "ok"')),
)

AMBASSADOR = Location(
    path="/",
    proxy_pass="http://app",
    conditions=(
        Condition(
            "$api_key_ok = 0",
            (("return", '401 \'{"error": "missing or wrong X-API-Key"}\''),),
        ),
    ),
    directives=(
        ("default_type", "application/json"),
        ("limit_req", f"zone=per_client burst={BURST} nodelay"),
        ("proxy_http_version", "1.1"),
        ("proxy_set_header", 'Connection ""'),
        ("proxy_set_header", "X-Request-ID $sidecar_request_id"),
        # The key is the sidecar's business: the app never receives it.
        ("proxy_set_header", 'X-API-Key ""'),
        ("proxy_connect_timeout", "1s"),
        ("proxy_read_timeout", READ_TIMEOUT),
        # Not `timeout`: a slow call is not retried into a slower one.
        ("proxy_next_upstream", "error http_502 http_503"),
        ("proxy_next_upstream_tries", "2"),
        ("add_header", "X-Request-ID $sidecar_request_id always"),
        ("add_header", "X-Sidecar inventory-ambassador always"),
    ),
)

SIDECAR = NginxConfig(
    main_directives=(
        ("worker_processes", "1"),
        ("pid", "/tmp/nginx.pid"),
        ("error_log", "stderr notice"),
    ),
    http_directives=(
        *UNPRIVILEGED_HTTP,
        ("log_format", f"sidecar escape=json {LOG_FORMAT}"),
        ("access_log", "/dev/stdout sidecar"),
        ("limit_req_zone", f"$binary_remote_addr zone=per_client:1m rate={RATE}"),
        ("limit_req_status", "429"),
        ("client_max_body_size", "64k"),
    ),
    maps=(API_KEY_CHECK, REQUEST_ID),
    upstreams=(APP_UPSTREAM,),
    servers=(Server(listen=str(LISTEN_PORT), locations=(HEALTH, AMBASSADOR)),),
)
