"""HTTP/1.1, HTTP/2 and HTTP/3 on one port, 0-RTT, and TCP next to UDP (lesson http-versions).

    https://localhost:8443      TCP: TLS 1.3 with ALPN h2 or http/1.1
    udp 8443 (same port)        QUIC: HTTP/3 (ALPN h3), advertised by Alt-Svc
                                on every HTTPS answer; 0-RTT accepted
    tcp 8447 / udp 8447         nginx's stream module in front of the echo
                                service: one TCP and one UDP port, same number

Early data can be replayed by anyone who captured it: nginx accepts it and
tells the api (`Early-Data: 1`, RFC 8470), which answers 425 Too Early to
anything but a safe method. A client retries after the handshake completes.
"""

from __future__ import annotations

from proxy import tls_termination
from proxy.load_balancing import LESSON_RESOLVER
from proxy.model import Directives, Map, Server, Upstream

QUIC_PORT = tls_termination.TLS_PORT  # same number as HTTPS: Alt-Svc needs no other port
ALT_SVC_MAX_AGE_S = 86400

QUIC = (
    # The same locations as HTTPS, over QUIC. reuseport: each worker gets its
    # own UDP socket, and the kernel keeps a connection's datagrams on it.
    ("listen", f"{QUIC_PORT} quic reuseport"),
    ("http3", "on"),
    # 0-RTT: a resumed client may send its first request with its first
    # datagrams. nginx passes $ssl_early_data upstream (EARLY_DATA_HEADER).
    ("ssl_early_data", "on"),
    # No Retry round trip to validate addresses: clients here are local, and
    # the lesson counts round trips. On the internet, turn it on under attack.
    ("quic_retry", "off"),
    # Bounds per connection: concurrent request streams and their buffers.
    ("http3_max_concurrent_streams", "64"),
    ("http3_stream_buffer_size", "64k"),
)

# Browsers and curl learn of HTTP/3 from this header on a TCP answer, then
# try QUIC on the same port for the next ones. `always`: on errors too.
ALT_SVC = (("add_header", f"Alt-Svc 'h3=\":{QUIC_PORT}\"; ma={ALT_SVC_MAX_AGE_S}' always"),)

# $ssl_early_data is "1" only until the handshake completes: read at the end
# of a request (in the access log) it may already be empty. A map's value is
# computed once per request, on first use: here when the upstream request is
# built, so the log shows what the api was told.
EARLY_DATA = "$sandbox_early_data"
EARLY_DATA_MAP = Map(
    source="$ssl_early_data", target=EARLY_DATA, entries=(('"1"', "1"), ("default", '""'))
)
# "1" when the request arrived in early data, else empty: nginx leaves the
# header out, and also drops one the client sent itself.
EARLY_DATA_HEADER = (("proxy_set_header", f"Early-Data {EARLY_DATA}"),)


# --- TCP next to UDP (stream) ---------------------------------------------------------

ECHO_PORT = 8447  # published twice: TCP and UDP
ECHO_BACKEND = "echo:7000"  # compose service `echo` (profile http-versions), both protocols

ECHO_TCP_UPSTREAM = Upstream(
    name="echo_tcp",
    servers=(f"{ECHO_BACKEND} resolve",),
    directives=(("zone", "echo_tcp 64k"), *LESSON_RESOLVER),
)
ECHO_UDP_UPSTREAM = Upstream(
    name="echo_udp",
    servers=(f"{ECHO_BACKEND} resolve",),
    directives=(("zone", "echo_udp 64k"), *LESSON_RESOLVER),
)


def _echo_server(listen: str, upstream: Upstream, own: Directives) -> Server:
    return Server(
        listen=listen,
        directives=(
            ("proxy_pass", upstream.name),
            ("proxy_connect_timeout", "2s"),
            *own,
        ),
    )


ECHO_SERVERS = (
    _echo_server(str(ECHO_PORT), ECHO_TCP_UPSTREAM, (("proxy_timeout", "30s"),)),
    # UDP has no connection: nginx keeps a "session" per client address and
    # forgets it after proxy_timeout without datagrams either way.
    _echo_server(f"{ECHO_PORT} udp", ECHO_UDP_UPSTREAM, (("proxy_timeout", "10s"),)),
)
ECHO_UPSTREAMS = (ECHO_TCP_UPSTREAM, ECHO_UDP_UPSTREAM)
