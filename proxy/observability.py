"""What nginx contributes to observability: the request id, trace context, JSON logs, metrics.

- **Request id.** An incoming X-Request-ID is kept when it is a short plain
  token (the api applies the same rule, services/telemetry/context.py);
  anything else (too long, quotes, newlines) is replaced by nginx's own
  random $request_id. The chosen id goes upstream, back to the client, and
  into the access log.
- **Trace context.** A W3C `traceparent` passes through only when it has the
  spec's exact shape; a malformed one is dropped, so the api starts a new
  trace instead of trusting it. `tracestate` passes only when it is short
  printable ASCII (the spec's 512 characters).
- **Metrics.** nginx counts its own requests per upstream, replica address
  and status in a shared-memory dictionary (njs, proxy/metrics.js), from the
  access log's evaluation of $sandbox_metrics_counted, and serves them with
  its connection gauges on an internal port for Prometheus.
"""

from __future__ import annotations

from proxy.model import Location, Map, Server

# Map keys are quoted: a regex with braces must be, for nginx's parser.
# The same path in the upstream nginx image (nginx.org's njs package) and in
# Debian's libnginx-mod-http-js (the local image drops Debian's auto-load).
LOAD_NJS = ("load_module", "/usr/lib/nginx/modules/ngx_http_js_module.so")
METRICS_PORT = 9145  # not published: Prometheus scrapes it on the `back` network
METRICS_JS_DIR = "/etc/nginx/njs/"  # compose mounts proxy/metrics.js here

REQUEST_ID = "$sandbox_request_id"
TRACEPARENT = "$sandbox_traceparent"
TRACESTATE = "$sandbox_tracestate"
COUNTED = "$sandbox_metrics_counted"  # always "": evaluating it counts the request


def kept_if_valid(header: str, target: str, pattern: str, otherwise: str = '""') -> Map:
    """$TARGET is the header's value when it matches `pattern` (whole), else `otherwise`."""
    source = f"$http_{header}"
    return Map(source, target, entries=((f'"~^{pattern}$"', source), ("default", otherwise)))


MAPS = (
    kept_if_valid("x_request_id", REQUEST_ID, "[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", "$request_id"),
    # version 00, 32-hex trace id, 16-hex parent span id, 2-hex flags.
    kept_if_valid("traceparent", TRACEPARENT, "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"),
    kept_if_valid("tracestate", TRACESTATE, "[\\x20-\\x7e]{1,512}"),
)

HTTP = (
    # Locations nginx answers itself (health, redirects) never set
    # $sandbox_upstream: reading it there is expected, not worth a warning.
    ("uninitialized_variable_warn", "off"),
    ("js_path", METRICS_JS_DIR),
    ("js_import", "metrics from metrics.js"),
    # Counters survive reloads; 1 MiB holds thousands of label sets.
    ("js_shared_dict_zone", "zone=sandbox_metrics:1m type=number"),
    ("js_set", f"{COUNTED} metrics.count"),
)

# An empty value makes nginx leave the header out.
PROXY_HEADERS = (
    ("proxy_set_header", f"X-Request-ID {REQUEST_ID}"),
    ("proxy_set_header", f"traceparent {TRACEPARENT}"),
    ("proxy_set_header", f"tracestate {TRACESTATE}"),
)
GRPC_HEADERS = tuple(("grpc_set_header", args) for _, args in PROXY_HEADERS)
RESPONSE_HEADERS = (("add_header", f"X-Request-ID {REQUEST_ID} always"),)

METRICS_SERVER = Server(
    listen=str(METRICS_PORT),
    locations=(
        Location(
            path="= /metrics",
            directives=(("access_log", "off"), ("js_content", "metrics.render")),
        ),
    ),
)
