"""TCP Fast Open on the HTTPS port, for the on-the-wire lesson's ways to HTTPS.

A client that holds a Fast Open cookie from an earlier connection sends its
first bytes, here the TLS ClientHello, inside its SYN (RFC 7413), and nginx
reads them as soon as the SYN arrives: one round trip less before the request.
nginx sets TCP_FASTOPEN on its listening socket (`listen ... fastopen=N`, N
being the queue of such connections whose handshake has not completed); the
proxy container's kernel serves Fast Open because compose.yaml sets
net.ipv4.tcp_fastopen to 3 in its network namespace alone. Clients without a
cookie, or that never ask, connect as before.
"""

from __future__ import annotations

FASTOPEN_QUEUE = 64
LISTEN_PARAMS = f"fastopen={FASTOPEN_QUEUE}"
