"""Proxies: a forward proxy against a reverse proxy, caching, keep-alive timeouts, streams to connections, sessions, the PROXY protocol.

(placeholder)
"""

from __future__ import annotations

NAME = "proxies"
ORDER = 25
SERVICES = ("squid", "outside", "catalog", "edge")
