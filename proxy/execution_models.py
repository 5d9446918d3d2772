"""Execution models, keep-alive and CPU-budgeted replicas behind nginx (lesson execution-models).

    /exec/async/...         ->  exec-async       one event loop
    /exec/threads/...       ->  exec-threads     sync handlers in a thread pool
    /exec/processes/...     ->  exec-processes   2 worker processes, one socket
    /exec/reuseport/...     ->  exec-reuseport   2 processes, SO_REUSEPORT
    /exec/no-keepalive/...  ->  exec-async again, but a new upstream
                                connection for every request
    /budget/...             ->  exec-budget      the async app, replicas at half a core each

Every upstream but no-keepalive keeps up to 16 idle connections to its
servers per nginx worker: a request reuses one instead of a TCP handshake.
The services exist only with the Compose profile `execution-models`; until
they run, these paths answer 502.
"""

from __future__ import annotations

from proxy import polling_and_push
from proxy.load_balancing import LESSON_RESOLVER
from proxy.model import Directives, Location, Upstream

MODELS = ("async", "threads", "processes", "reuseport")
PORT = 8000
PREFIX = "/exec/"
KEEPALIVE = 16
BUDGET_SERVICE = "exec-budget"
BUDGET_PREFIX = "/budget/"

# nginx 1.30 keeps upstream connections alive even without a `keepalive`
# directive (its release notes: HTTP/1.1 with keep-alive by default). Asking
# the server to close after each answer makes it one connection per request.
NO_KEEPALIVE = "exec_no_keepalive"


def _upstream(name: str, host: str, keepalive: int | None) -> Upstream:
    return Upstream(
        name=name,
        servers=(f"{host}:{PORT} resolve",),
        keepalive=keepalive,
        directives=(("zone", f"{name} 64k"), *LESSON_RESOLVER),
    )


UPSTREAMS = (
    *(_upstream(f"exec_{model}", f"exec-{model}", KEEPALIVE) for model in MODELS),
    # No keepalive: a new upstream connection per request (see locations()).
    _upstream(NO_KEEPALIVE, "exec-async", None),
    _upstream("exec_budget", BUDGET_SERVICE, KEEPALIVE),
)


# Requests may legitimately take a while here: /io and /blocking wait up to 2 s.
READ_TIMEOUT = ("proxy_read_timeout", "10s")


def locations(settings: Directives) -> tuple[Location, ...]:
    """Every path above; `settings` are the server's shared proxy settings."""
    routes = {f"{PREFIX}{model}/": f"exec_{model}" for model in MODELS}
    routes[f"{PREFIX}no-keepalive/"] = NO_KEEPALIVE
    routes[BUDGET_PREFIX] = "exec_budget"
    closing = (
        *polling_and_push.without_connection_header(settings),
        ("proxy_set_header", "Connection close"),
    )
    return tuple(
        # The trailing slash replaces the matched prefix with "/".
        Location(path=path, proxy_pass=f"http://{upstream}/",
                 directives=(*(closing if upstream == NO_KEEPALIVE else settings), READ_TIMEOUT))
        for path, upstream in routes.items()
    )  # fmt: skip
