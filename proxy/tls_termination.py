"""TLS at the proxy: termination on 8443, and passthrough and re-encryption to contrast.

    https://localhost:8443/...            terminated here; plain HTTP to the api replicas
    https://localhost:8443/reencrypt/...  terminated here, then TLS again to api-tls,
                                          whose certificate nginx verifies with the local CA
    https://localhost:8443/reencrypt-wrong-ca/...
                                          the same, trusting an unrelated CA: 502, and
                                          the error log says why
    port 8444 (stream, ssl_preread)       not terminated: routed by SNI, bytes passed on;
                                          api-tls terminates, with its own certificate

Certificates come from proxy/certs.py (a throwaway local CA in
.sandbox/tls/); compose bind-mounts them one file at a time under CERT_DIR.
"""

from __future__ import annotations

from proxy.model import Directives, Location, Map, Server, Upstream

TLS_PORT = 8443
PASSTHROUGH_PORT = 8444
CERT_DIR = "/etc/nginx/tls"
BACKEND = "api-tls"  # compose service: an api replica that terminates TLS itself
BACKEND_PORT = 8443
PASSTHROUGH_SNI = "passthrough.localhost"
# Nothing listens there: a connection with an unknown SNI is refused and the
# client's handshake fails at once, instead of reaching some default backend.
NOWHERE = "127.0.0.1:9"

# HSTS (RFC 6797): a browser that gets this over HTTPS uses only HTTPS for the host NAME
# until max-age runs out, on every port (section 8.3 keeps any port but 80), and ignores
# it for an IP address (section 8.1). The name here is `localhost`, which every
# development server you run shares: a year (the usual production value) would turn
# each http://localhost:<port> into https:// for a year. Five minutes shows the header
# and expires quickly; each answer restarts it, and it replaces a longer value a browser
# kept from before (section 8.1: a new max-age updates the cached one). No
# includeSubDomains or preload, for the same reason.
HSTS_MAX_AGE_S = 300
HSTS = (("add_header", f'Strict-Transport-Security "max-age={HSTS_MAX_AGE_S}" always'),)

TERMINATION = (
    ("ssl_certificate", f"{CERT_DIR}/server.pem"),
    ("ssl_certificate_key", f"{CERT_DIR}/server.key"),
    # TLS 1.0 and 1.1 are deprecated (RFC 8996): their handshakes fail.
    ("ssl_protocols", "TLSv1.2 TLSv1.3"),
    # TLS 1.2: forward-secret AEAD suites for the ECDSA certificate only
    # (Mozilla "intermediate"); TLS 1.3's suites are all modern and fixed.
    (
        "ssl_ciphers",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    # Every suite left is strong: let the client pick what is fast for it.
    ("ssl_prefer_server_ciphers", "off"),
    # Resumption from a server-side cache (an abbreviated handshake). Tickets
    # are off: their encryption key would need rotating, and nginx keeps one
    # per process lifetime.
    ("ssl_session_cache", "shared:TLS:1m"),
    ("ssl_session_timeout", "10m"),
    ("ssl_session_tickets", "off"),
    # HTTP/2 is offered through ALPN on this listener.
    ("http2", "on"),
)


def _backend_upstream(name: str) -> Upstream:
    return Upstream(
        name=name,
        servers=(f"{BACKEND}:{BACKEND_PORT} resolve",),
        keepalive=8,
        directives=(("zone", f"{name} 64k"),),
    )


# nginx verifies the backend's certificate during the handshake only: a kept
# alive connection or a reused session skips it. The wrong-CA path therefore
# has its own upstream, or it would borrow the good path's verified
# connections and answer 200.
REENCRYPT_UPSTREAMS = {
    "ca.pem": _backend_upstream("api_tls"),
    "wrong-ca.pem": _backend_upstream("api_tls_wrong_ca"),
}


def _reencrypt(trusted: str) -> Directives:
    return (
        ("proxy_ssl_verify", "on"),
        ("proxy_ssl_trusted_certificate", f"{CERT_DIR}/{trusted}"),
        # The name checked against the certificate, and sent as SNI.
        ("proxy_ssl_name", BACKEND),
        ("proxy_ssl_server_name", "on"),
        ("proxy_ssl_protocols", "TLSv1.3"),
        # Reuse TLS sessions to the backend instead of a full handshake each time.
        ("proxy_ssl_session_reuse", "on"),
    )


def reencrypt_locations(proxy_settings: Directives) -> tuple[Location, ...]:
    """/reencrypt/ (verifies api-tls with the local CA) and /reencrypt-wrong-ca/ (fails: 502).

    `proxy_settings` are the HTTPS server's: forwarded headers, HSTS...
    """
    return tuple(
        Location(
            path=path,
            proxy_pass=f"https://{REENCRYPT_UPSTREAMS[trusted].name}/",
            directives=(*_reencrypt(trusted), *proxy_settings),
        )
        for path, trusted in (("/reencrypt/", "ca.pem"), ("/reencrypt-wrong-ca/", "wrong-ca.pem"))
    )


def termination_server(
    locations: tuple[Location, ...], more: Directives = (), listen_params: str = ""
) -> Server:
    """The HTTPS server; `more` adds listeners and settings (HTTP/3: proxy/http_versions.py),
    `listen_params` the listening socket's own (TCP Fast Open: proxy/on_the_wire.py)."""
    listen = f"{TLS_PORT} ssl {listen_params}".strip()
    return Server(listen=listen, locations=locations, directives=(*TERMINATION, *more))


# --- passthrough (stream) ----------------------------------------------------------

PASSTHROUGH_ROUTES = Map(
    source="$ssl_preread_server_name",
    target="$passthrough_backend",
    entries=((PASSTHROUGH_SNI, "api_tls_passthrough"), ("default", NOWHERE)),
)

PASSTHROUGH_UPSTREAM = Upstream(
    name="api_tls_passthrough",
    servers=(f"{BACKEND}:{BACKEND_PORT} resolve",),
    directives=(("zone", "api_tls_passthrough 64k"),),
)

PASSTHROUGH_SERVER = Server(
    listen=str(PASSTHROUGH_PORT),
    directives=(
        # Read the ClientHello's SNI without terminating: nginx holds no key here.
        ("ssl_preread", "on"),
        ("proxy_pass", "$passthrough_backend"),
        ("proxy_connect_timeout", "2s"),
        ("proxy_timeout", "60s"),
    ),
)
