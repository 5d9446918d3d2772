"""The identity provider and the api that requires its tokens, behind nginx (lesson auth).

    /oauth2/...                         ->  hydra:4444   Hydra's public API: the token
    /.well-known/jwks.json                               endpoint, its public keys and its
    /.well-known/openid-configuration                    discovery document
    /secure/...                         ->  api-auth     the api, every order and quote
                                                         route requiring a token
    /secure/feed/..., /secure/signal/ws     the feed and WebRTC signaling on api-auth,
                                            for a signed-in browser (a session cookie):
                                            streams and WebSockets set as on /feed/
    /edge/...                           ->  the default api replicas, which check no
                                            token: nginx does, once, with auth_request
                                            to api-auth's /auth/verify (the same checks)

nginx reaches api-auth over mutual TLS: it verifies api-auth's certificate
against the sandbox's CA and presents its own (proxy-client/, short-lived,
re-issued by the host and read again at each `nginx -s reload`); api-auth
refuses a handshake without one (services/api/tls_server.py).

Checked at the edge, a request that does not pass nginx is not checked at all:
the api replicas behind /edge/ answer anybody on the layer-4 port (8081) or
inside the network; api-auth refuses wherever a request comes from.

On the TLS port only: a token, or a client secret, never crosses plain HTTP.
Hydra's admin API (4445), which hands out private keys, is never proxied.
The services exist only with the Compose profile `auth`; until they run,
these paths answer 502.
"""

from __future__ import annotations

from proxy import load_balancing, polling_and_push
from proxy.load_balancing import LESSON_RESOLVER
from proxy.model import Directives, Location, Map, Upstream
from proxy.tls_termination import CERT_DIR

HYDRA = "auth_hydra"
API = "auth_api"
SECURE_PREFIX = "/secure/"
EDGE_PREFIX = "/edge/"
VERIFY = "/_auth_verify"  # the auth_request subrequest's location (internal only)
CHALLENGE = "$sandbox_auth_challenge"
STATUS = "$sandbox_auth_status"
FORBIDDEN_CHALLENGE = "$sandbox_auth_forbidden_challenge"
SUBJECT = "$sandbox_auth_subject"
SIGNIN_READ_TIMEOUT = "15s"
# The verifier's challenge when it answered 403, else empty (and add_header adds nothing).
FORBIDDEN_MAP = Map(STATUS, FORBIDDEN_CHALLENGE, entries=(("403", CHALLENGE), ("default", '""')))


def _upstream(name: str, server: str) -> Upstream:
    return Upstream(
        name=name,
        servers=(f"{server} resolve",),
        keepalive=8,
        directives=(("zone", f"{name} 64k"), *LESSON_RESOLVER),
    )


UPSTREAMS = (_upstream(HYDRA, "hydra:4444"), _upstream(API, "api-auth:8443"))
PROXY_CLIENT_DIR = f"{CERT_DIR}/proxy-client"  # compose.yaml mounts the folder
# To api-auth: its certificate checked (name and CA), nginx's own presented.
MUTUAL_TLS: Directives = (
    ("proxy_ssl_certificate", f"{PROXY_CLIENT_DIR}/tls.crt"),
    ("proxy_ssl_certificate_key", f"{PROXY_CLIENT_DIR}/tls.key"),
    ("proxy_ssl_trusted_certificate", f"{PROXY_CLIENT_DIR}/ca.crt"),
    ("proxy_ssl_verify", "on"),
    ("proxy_ssl_name", "api-auth"),
    ("proxy_ssl_server_name", "on"),
    ("proxy_ssl_protocols", "TLSv1.3"),
    ("proxy_ssl_session_reuse", "on"),
)
API_URL = f"https://{API}"


def locations(settings: Directives) -> tuple[Location, ...]:
    """Every path above; `settings` are the TLS server's shared proxy settings."""
    hydra_paths = ("/oauth2/", "= /.well-known/jwks.json", "= /.well-known/openid-configuration")
    return (
        *(Location(path=p, proxy_pass=f"http://{HYDRA}", directives=settings) for p in hydra_paths),
        # The trailing slash replaces the matched prefix with "/".
        Location(path=SECURE_PREFIX, proxy_pass=f"{API_URL}/", directives=(*settings, *MUTUAL_TLS)),
        # A failed sign-in is answered late on purpose (up to 4 s, services/api/signin.py),
        # past the server's read timeout: the client would get a 504 instead of the page.
        Location(
            path=f"= {SECURE_PREFIX}login",
            proxy_pass=f"{API_URL}/login",
            directives=(*settings, *MUTUAL_TLS, ("proxy_read_timeout", SIGNIN_READ_TIMEOUT)),
        ),
        *edge_locations(settings),
        *signed_in_locations(settings),
    )


def signed_in_locations(settings: Directives) -> tuple[Location, ...]:
    """The feed and signaling under /secure/, where a session is needed: held requests,
    streams and WebSockets need the settings the default paths have."""
    return (
        *polling_and_push.locations(settings, SECURE_PREFIX.rstrip("/"), API_URL, MUTUAL_TLS),
        Location(
            path=f"= {SECURE_PREFIX}signal/ws",
            proxy_pass=f"{API_URL}/signal/ws",
            directives=(*polling_and_push.websocket(settings), *MUTUAL_TLS),
        ),
    )


def edge_locations(settings: Directives) -> tuple[Location, ...]:
    """/edge/: the token checked by nginx (auth_request), then the default replicas."""
    checked = (
        *settings,
        ("auth_request", VERIFY),
        # A refusal's reason, from the verifier's answer to the client's: nginx copies
        # WWW-Authenticate of a 401 itself, not of a 403 (FORBIDDEN_CHALLENGE).
        ("auth_request_set", f"{CHALLENGE} $upstream_http_www_authenticate"),
        ("auth_request_set", f"{STATUS} $upstream_status"),
        ("add_header", f"WWW-Authenticate {FORBIDDEN_CHALLENGE} always"),
        # Who the token named, for the replica: trustworthy only as long as nothing but
        # nginx can reach it, which the lesson shows is not so (the default replicas
        # ignore it).
        ("auth_request_set", f"{SUBJECT} $upstream_http_x_auth_subject"),
        ("proxy_set_header", f"X-Auth-Subject {SUBJECT}"),
    )
    verify = (
        ("internal", ""),
        ("proxy_http_version", "1.1"),
        ("proxy_set_header", 'Connection ""'),
        # The verifier gets what it needs and nothing else: no body, no other header of
        # the client's (a header too large for the api would come back as nginx's 500).
        ("proxy_pass_request_body", "off"),
        # Without this nginx still sends the client's Content-Length, with no body after
        # it: the verifier then read the next request on the kept-alive connection as that
        # body, and answered it 400 ("Invalid HTTP request received").
        ("proxy_set_header", 'Content-Length ""'),
        ("proxy_pass_request_headers", "off"),
        ("proxy_set_header", "Authorization $http_authorization"),
        ("proxy_set_header", "Host $host"),
        ("proxy_set_header", "X-Original-Method $request_method"),
        ("proxy_set_header", "X-Original-URI $request_uri"),
        ("proxy_set_header", f"X-Forwarded-Prefix {EDGE_PREFIX.rstrip('/')}"),
    )
    upstream = f"http://{load_balancing.ROUND_ROBIN.name}/"
    return (
        Location(path=EDGE_PREFIX, proxy_pass=upstream, directives=checked),
        Location(
            path=f"= {VERIFY}",
            proxy_pass=f"{API_URL}/auth/verify",
            directives=(*verify, *MUTUAL_TLS),
        ),
    )
